"""The README's "Try it" purchase, step by step over HTTP against a served demo marketplace (seeded as
`serve --demo` seeds it): buyer1 checks out with the welcome code and 100 points, pays by card in the sandbox
and approves the payment at the gateway's URL, whose callback reaches the webhook over HTTP."""

from __future__ import annotations

import asyncpg
import httpx

from loadtest.server import Server, free_port
from marketplace.seed.loader import DEMO_PASSWORD, seed
from marketplace.settings import Settings

README_BUYER = "buyer1@demo.test"


async def test_the_readme_purchase_works_for_the_demo_buyer(db: asyncpg.Connection, settings: Settings) -> None:
    await seed(db, "small", 42, quiet=True)  # serve --demo's marketplace
    port = free_port()
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "SANDBOX_GATEWAY": "true",  # as serve --demo sets it
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with Server("marketplace.app:create_app", env, factory=True, port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            r = await http.post("/auth/login", json={"identifier": README_BUYER, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            me = {"authorization": f"Bearer {r.json()['access_token']}"}
            assert (await http.get("/me/loyalty", headers=me)).json()["balance"] == 500

            product = (await http.get("/products", params={"q": "kettle", "in_stock": "true"})).json()["items"][0]
            page = (await http.get(f"/products/{product['id']}")).json()
            sku = next(s["id"] for s in page["skus"] if s["in_stock"])
            r = await http.put(f"/cart/items/{sku}", headers=me, json={"quantity": 1})
            assert r.status_code == 200, r.text
            address = (await http.get("/me/addresses", headers=me)).json()[0]["id"]
            r = await http.post(
                "/checkouts", headers=me, json={"address_id": address, "coupon_code": "WELCOME10", "points": 100}
            )
            assert r.status_code == 201, r.text
            checkout = r.json()
            assert checkout["points_spent"] == 100 and checkout["coupon_id"] is not None

            r = await http.post(f"/checkouts/{checkout['id']}/payments", headers=me, json={"method": "sandbox"})
            assert r.status_code == 201, r.text
            action = r.json()["next_action"]
            assert action["type"] == "redirect" and action["url"].startswith("/sandbox-gateway/")
            # The README: the URL is the sandbox gateway's page; from a terminal, a POST to its /approve approves.
            page = await http.get(action["url"])
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            r = await http.post(f"{action['url']}/approve")
            assert r.status_code == 200 and r.json() == {"outcome": "applied"}, r.text

            assert (await http.get(f"/checkouts/{checkout['id']}", headers=me)).json()["status"] == "paid"
            assert (await http.get("/me/loyalty", headers=me)).json()["balance"] == 400
