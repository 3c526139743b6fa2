"""The web layer without a browser: pages render from the services, the cookie session is an ordinary login
session, CSRF tokens guard every form, and the live feed accepts the session cookie only from our own pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pyotp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from websockets.asyncio.client import connect

from marketplace.app import create_app
from marketplace.settings import Settings
from marketplace.web.session import ACCESS_COOKIE, REFRESH_COOKIE
from tests import test_realtime
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, PASSWORD, Actor, approved_vendor, sign_up
from tests.test_realtime import until

live = test_realtime.live  # the fixture serving the feed

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD, **extra: str) -> Any:
    token = csrf_of((await client.get("/login")).text)
    return await client.post(
        "/login", data={"identifier": email, "password": password, "csrf_token": token, **extra}, follow_redirects=False
    )


@pytest.fixture
async def kettles(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "kettles@example.com", "Kettle Corner")
    steel = await product(vendor, cats["Kettles"], "Steel Kettle", 3450, brand="Brewmaster")
    teapot = await product(vendor, cats["Kettles"], "玻璃茶壶 Glass Teapot", 2100)
    hose = await product(vendor, cats["Garden"], "Garden Hose", 1999)
    return {"cats": cats, "vendor": vendor, "steel": steel, "teapot": teapot, "hose": hose}


async def test_home_search_and_product_pages_show_the_catalog_with_money_in_its_currency(
    client: AsyncTestClient[Litestar], kettles: dict[str, Any]
) -> None:
    home = await client.get("/")
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert "Kitchen" in home.text and "Steel Kettle" in home.text and "Sign in" in home.text
    found = await client.get("/shop/search", params={"q": "kettel"})  # a typo
    assert found.status_code == 200 and "Steel Kettle" in found.text and "Garden Hose" not in found.text
    assert "34.50 EUR" in found.text
    assert "玻璃茶壶" in (await client.get("/shop/search", params={"q": "茶壶"})).text  # a Chinese substring
    category = await client.get(f"/shop/categories/{kettles['cats']['Home']}", params={"sort": "price_asc"})
    assert category.text.index("玻璃茶壶") < category.text.index("Steel Kettle")  # sorted, sub-categories included
    page = await client.get(f"/shop/products/{kettles['steel']['id']}")
    assert page.status_code == 200 and "Steel Kettle" in page.text and "Kettle Corner" in page.text
    assert f'data-stock-sku="{kettles["steel"]["skus"][0]["id"]}"' in page.text and "10 in stock" in page.text
    missing = await client.get("/shop/products/999999")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    empty = await client.get("/shop/search", params={"q": "zzzzqqqq"})
    assert "No products found" in empty.text and "clear the filters" in empty.text


async def test_signing_in_through_the_page_is_an_api_login_session_in_httponly_cookies(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    buyer = await sign_up(client, "pagebuyer@example.com")
    r = await sign_in(client, buyer.email, next="/shop/search?q=x")
    assert r.status_code == 303 and r.headers["location"] == "/shop/search?q=x"
    cookies = r.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith(f"{ACCESS_COOKIE}="))
    assert "HttpOnly" in access and "samesite=lax" in access.lower() and "Path=/" in access
    assert any(c.startswith(f"{REFRESH_COOKIE}=") and "HttpOnly" in c for c in cookies)
    families = await db.fetchval("SELECT count(DISTINCT family) FROM refresh_tokens WHERE user_id = $1", buyer.id)
    assert families == 2  # the API login of sign_up, and this page's
    home = await client.get("/")
    assert "Sign out" in home.text and "Account" in home.text
    # Signing out ends that login session: its refresh family is revoked.
    await client.post("/logout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False)
    live_families = await db.fetchval(
        "SELECT count(DISTINCT family) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", buyer.id
    )
    assert live_families == 1
    assert "Sign in" in (await client.get("/")).text


async def test_a_wrong_password_says_so_and_a_two_factor_account_is_asked_for_its_code(
    client: AsyncTestClient[Litestar],
) -> None:
    buyer = await sign_up(client, "twofactor@example.com")
    wrong = await sign_in(client, buyer.email, password="not the password")
    assert wrong.status_code == 401 and "Wrong email, phone or password" in wrong.text
    secret = (await buyer.post("/auth/totp/enrol")).json()["secret"]
    totp = pyotp.TOTP(secret)
    assert (await buyer.post("/auth/totp/confirm", json={"code": totp.now()})).status_code == 200
    asked = await sign_in(client, buyer.email)
    assert asked.status_code == 401 and 'name="totp_code"' in asked.text
    code = totp.at(datetime.now(UTC), counter_offset=1)  # the confirming code may not be used twice
    r = await sign_in(client, buyer.email, totp_code=code)
    assert r.status_code == 303


async def test_an_expired_access_cookie_is_renewed_from_the_refresh_cookie(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    buyer = await sign_up(client, "renew@example.com")
    await sign_in(client, buyer.email)
    client.cookies.delete(ACCESS_COOKIE)  # as the browser does when its max-age passes
    r = await client.get("/shop/session")
    assert r.json() == {"signed_in": True}
    assert any(c.startswith(f"{ACCESS_COOKIE}=") for c in r.headers.get_list("set-cookie"))
    assert "Sign out" in (await client.get("/")).text


async def test_a_form_posted_without_the_csrf_token_is_refused_and_changes_nothing(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    buyer = await sign_up(client, "csrf@example.com")
    await sign_in(client, buyer.email)
    live_tokens = "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND user_id = $1"
    before = await db.fetchval(live_tokens, buyer.id)
    for data in ({}, {"csrf_token": "forged"}):
        r = await client.post("/logout", data=data, follow_redirects=False)
        assert r.status_code == 403 and "reload the page" in r.text
    r = await client.post("/logout", headers={"X-CSRF-Token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert await db.fetchval(live_tokens, buyer.id) == before
    assert "Sign out" in (await client.get("/")).text  # still signed in
    # The JSON API, authenticated by its bearer header, needs no CSRF token.
    assert (await buyer.post("/me/addresses", json={**_ADDRESS})).status_code == 201


_ADDRESS = {"recipient": "Ann", "phone": "+4915112345678", "line1": "1 Street", "city": "Berlin",
            "postal_code": "10115", "country": "DE"}  # fmt: skip


async def test_pages_carry_a_same_origin_policy_and_are_not_cached(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/")
    policy = r.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'") and "unsafe-inline" not in policy
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text  # scripts come from static files only
    static = await client.get("/static/vendor/htmx.min.js")
    assert static.status_code == 200 and "max-age" in static.headers["cache-control"]


async def test_the_feed_takes_the_session_cookie_only_from_this_sites_pages(
    client: AsyncTestClient[Litestar], live: str
) -> None:
    buyer = await sign_up(client, "feedcookie@example.com")
    r = await sign_in(client, buyer.email)
    access = next(c for c in r.headers.get_list("set-cookie") if c.startswith(f"{ACCESS_COOKIE}="))
    cookie = access.split(";")[0]
    host = live.split("/")[2]
    topic = f"user:{buyer.id}:orders"
    subscribe = msgspec.json.encode({"op": "subscribe", "topics": [topic]})
    async with connect(live, additional_headers={"Cookie": cookie, "Origin": f"http://{host}"}) as ws:
        await ws.send(subscribe)
        assert (await until(ws, "subscribed"))["topics"] == [topic]
    async with connect(live, additional_headers={"Cookie": cookie, "Origin": "https://evil.example"}) as ws:
        await ws.send(subscribe)
        assert (await until(ws, "error"))["error"] == "unauthorized"  # treated as signed out


async def test_the_api_docs_load_their_scripts_from_this_app(client: AsyncTestClient[Litestar]) -> None:
    for path, asset in (("/schema", "vendor/scalar/standalone.js"), ("/schema/swagger", "swagger-ui-bundle.js")):
        html = (await client.get(path)).text
        found = re.search(r'src="(/static/[^"]*' + re.escape(asset) + r'[^"]*)"', html)
        assert found, (path, "loads nothing from /static")
        served = await client.get(found.group(1))
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]


async def test_the_sandbox_gateway_page_exists_only_where_the_sandbox_does(settings: Settings) -> None:
    app = create_app(msgspec.structs.replace(settings, sandbox_gateway=False))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/sandbox-gateway/sbx_anything")).status_code == 404
        assert (await client.get("/")).status_code == 200


async def test_a_buyer_reviews_a_delivered_order_and_claims_a_coupon_through_the_pages(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], admin: Actor
) -> None:
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order_id = orders[alpha.vendor_id]["id"]
    for step, body in (("accept", None), ("ship", {"carrier": "DHL", "tracking_number": "JJD0009"}), ("deliver", None)):
        assert (await alpha.post(f"/vendor/orders/{order_id}/{step}", json=body)).status_code == 200
    await sign_in(client, shop["buyer"].email)
    page = (await client.get(f"/shop/orders/{order_id}")).text
    assert "Review what you bought" in page and "Return, exchange or refund" in page
    review = {"csrf_token": csrf_of(page), "product_id": str(shop["kettle"]["id"]), "rating": "4", "body": "Boils fast"}
    r = await client.post(f"/shop/orders/{order_id}/reviews", data=review, follow_redirects=False)
    assert r.status_code == 303
    assert "Boils fast" in (await client.get(f"/shop/products/{shop['kettle']['id']}")).text
    again = await client.post(f"/shop/orders/{order_id}/reviews", data=review)
    assert again.status_code == 409 and "Review what you bought" in again.text  # the service's answer, on the page
    window = {
        "starts_at": datetime.now(UTC).isoformat(),
        "ends_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    }
    coupon = {"name": "Welcome five", "kind": "fixed", "audience": "code", "amount_off": 500, "code": "HELLO5"}
    assert (await admin.post("/marketing/coupons", json=coupon | window)).status_code == 201
    rewards = (await client.get("/shop/rewards")).text
    r = await client.post("/shop/rewards/claim", data={"csrf_token": csrf_of(rewards), "code": "HELLO5"})
    assert r.status_code == 200 and "“Welcome five” is in your wallet" in r.text and "5.00 EUR off" in r.text


async def test_paying_by_bank_transfer_shows_the_amount_in_currency_and_the_reference(
    client: AsyncTestClient[Litestar], shop: dict[str, Any]
) -> None:
    placed = (await shop["checkout"](pay=False))["checkout"]
    await sign_in(client, shop["buyer"].email)
    page = (await client.get(f"/shop/checkouts/{placed['id']}")).text
    assert "Pay 120.00 EUR" in page  # 2 x 30.00 and 60.00, each shop's parcel shipped free: never cents
    form = {"csrf_token": csrf_of(page), "method": "bank_transfer", "idempotency_key": "k-1"}
    r = await client.post(f"/shop/checkouts/{placed['id']}/pay", data=form)
    assert r.status_code == 200 and "Transfer 120.00 EUR" in r.text and re.search(r"reference <strong>BT-\w+", r.text)
    again = await client.post(f"/shop/checkouts/{placed['id']}/pay", data=form)  # a double submit: the same payment
    assert (
        again.status_code == 200 and len((await shop["buyer"].get(f"/checkouts/{placed['id']}/payments")).json()) == 1
    )


async def test_a_flash_sale_bought_on_the_product_page_is_one_checkout_however_often_the_form_is_sent(
    client: AsyncTestClient[Litestar], kettles: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    sale = {"sku_id": kettles["steel"]["skus"][0]["id"], "sale_price": 1999, "units": 5, "per_buyer_limit": 1}
    window = {"starts_at": (now - timedelta(seconds=1)).isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    r = await kettles["vendor"].post("/vendor/flash-sales", json=sale | window)
    assert r.status_code == 201, r.text
    buyer = await sign_up(client, "flashpage@example.com")
    address = (await buyer.post("/me/addresses", json=ADDRESS)).json()
    await sign_in(client, buyer.email)
    page = (await client.get(f"/shop/products/{kettles['steel']['id']}")).text
    form = {"csrf_token": csrf_of(page), "address_id": str(address["id"]), "idempotency_key": "page-buy-1"}
    first = await client.post(f"/shop/flash-sales/{r.json()['id']}/buy", data=form, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/shop/checkouts/")
    # The buyer's limit is reached, but the same form sent again is a retry: the same checkout, not a refusal.
    again = await client.post(f"/shop/flash-sales/{r.json()['id']}/buy", data=form, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    assert len((await buyer.get("/orders")).json()["items"]) == 1


async def test_session_cookies_are_secure_when_the_shop_is_served_over_https(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings), base_url="https://shop.example.com") as client:
        buyer = await sign_up(client, "secure@example.com")
        r = await sign_in(client, buyer.email)
        cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith((ACCESS_COOKIE, REFRESH_COOKIE))]
        assert len(cookies) == 2 and all("Secure" in c for c in cookies)


async def test_the_login_page_has_the_apis_rate_limits(client: AsyncTestClient[Litestar]) -> None:
    buyer = await sign_up(client, "guessed@example.com")
    answers = [(await sign_in(client, buyer.email, password="wrong guess")) for _ in range(8)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and "Too many attempts. Wait" in limited[0].text  # failures from this IP now wait
    assert answers[0].status_code == 401
