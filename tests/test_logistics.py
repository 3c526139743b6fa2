"""Logistics: shipping templates price checkout (by region, count or weight, free above a threshold), only
their own shop reads or edits them, and the sandbox carrier's signed tracking events reach the buyer and move
an order to delivered, while forged, stale and repeated events change nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core import topics
from marketplace.logistics.carriers import TrackingType
from marketplace.logistics.sandbox import SIGNATURE_HEADER, SandboxCarrier
from marketplace.settings import Settings
from tests.catalog_helpers import category_tree, product
from tests.conftest import ADDRESS, Actor, approved_vendor, sign_up

WEBHOOK = "/logistics/webhooks/sandbox"
STANDARD = {
    "name": "Standard",
    "basis": "count",
    "default_rate": {"first_units": 1, "first_fee": 390, "extra_units": 1, "extra_fee": 100, "free_from": 20000},
    "regions": [
        {"country": "FR", "first_units": 1, "first_fee": 1500, "extra_units": 1, "extra_fee": 500},
        {"country": "DE", "region": "Bavaria", "first_units": 2, "first_fee": 700, "extra_units": 2, "extra_fee": 300},
    ],
}
HEAVY = {
    "name": "Heavy goods",
    "basis": "weight",
    "default_rate": {"first_units": 1000, "first_fee": 500, "extra_units": 500, "extra_fee": 200},
}


@pytest.fixture
async def market(client: AsyncTestClient[Litestar], admin: Actor) -> dict[str, Any]:
    cats = await category_tree(admin)
    alpha = await approved_vendor(client, admin, "alpha@example.com", "Alpha")
    beta = await approved_vendor(client, admin, "beta@example.com", "Beta")
    buyer = await sign_up(client, "shipper@example.com")
    addresses = {}
    for name, extra in [("berlin", {}), ("munich", {"city": "Munich", "region": "bavaria"}),
                        ("paris", {"city": "Paris", "country": "FR", "postal_code": "75001"})]:  # fmt: skip
        addresses[name] = (await buyer.post("/me/addresses", json={**ADDRESS, **extra})).json()["id"]
    return {
        "alpha": alpha,
        "beta": beta,
        "buyer": buyer,
        "addresses": addresses,
        "kettle": await product(alpha, cats["Kettles"], "Kettle", 3000, stock=50),
        "teapot": await product(alpha, cats["Kitchen"], "Teapot", 1500, stock=50),
        "hose": await product(beta, cats["Garden"], "Hose", 2000, stock=50),
    }


async def shipping_of(market: dict[str, Any], address: str, cart: dict[str, int]) -> dict[int, int]:
    """Check out `cart` (product name → quantity) to `address`: each vendor order's shipping."""
    buyer = market["buyer"]
    for name, quantity in cart.items():
        r = await buyer.put(f"/cart/items/{market[name]['skus'][0]['id']}", json={"quantity": quantity})
        assert r.status_code == 200, r.text
    r = await buyer.post("/checkouts", json={"address_id": market["addresses"][address]})
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["grand_total"] == sum(o["total"] for o in placed["orders"])
    return {o["vendor_id"]: o["shipping_total"] for o in placed["orders"]}


async def test_checkout_charges_the_templates_fee_by_region_count_weight_and_threshold(market: dict[str, Any]) -> None:
    alpha, beta = market["alpha"].vendor_id, market["beta"].vendor_id
    # No template yet: the flat rule (free from 50.00), for both shops.
    assert await shipping_of(market, "paris", {"kettle": 2, "hose": 1}) == {alpha: 0, beta: 499}
    r = await market["alpha"].post("/vendor/shipping-templates", json=STANDARD)
    assert r.status_code == 201, r.text
    assert r.json()["is_default"] is True  # a shop's first template is its default
    # Near (Berlin: the default rate), far (France), one region of a country (Bavaria, any case).
    assert (await shipping_of(market, "berlin", {"kettle": 2}))[alpha] == 390 + 100
    assert (await shipping_of(market, "paris", {"kettle": 2}))[alpha] == 1500 + 500
    assert (await shipping_of(market, "munich", {"kettle": 5}))[alpha] == 700 + 2 * 300  # 3 more items: 2 steps
    # Free from the threshold (7 x 30.00 >= 200.00); a shop without templates keeps the flat rule meanwhile.
    assert await shipping_of(market, "berlin", {"kettle": 7, "hose": 1}) == {alpha: 0, beta: 499}
    # A product naming a weight template: 2 x 1.2 kg = 2.4 kg, 1 kg included, 3 started steps of 500 g more.
    heavy = (await market["alpha"].post("/vendor/shipping-templates", json=HEAVY)).json()
    assert heavy["is_default"] is False
    kettle = market["kettle"]["id"]
    r = await market["alpha"].put(
        f"/vendor/products/{kettle}/shipping", json={"template_id": heavy["id"], "weight_grams": 1200}
    )
    assert r.status_code == 200, r.text
    assert (await shipping_of(market, "paris", {"kettle": 2}))[alpha] == 500 + 3 * 200  # no French rate: default
    # Lines under two templates pay each one's fee: the kettles by weight, the teapots by the default (count).
    assert (await shipping_of(market, "berlin", {"kettle": 2, "teapot": 3}))[alpha] == 1100 + 390 + 2 * 100
    # Deleting the weight template sends the kettle back to the default template.
    assert (await market["alpha"].delete(f"/vendor/shipping-templates/{heavy['id']}")).status_code == 204
    assert (await market["alpha"].get(f"/vendor/products/{kettle}/shipping")).json()["template_id"] is None
    assert (await shipping_of(market, "berlin", {"kettle": 2}))[alpha] == 490


async def test_templates_belong_to_their_shop_and_bad_templates_are_refused(
    market: dict[str, Any], db: asyncpg.Connection
) -> None:
    alpha, beta = market["alpha"], market["beta"]
    first = (await alpha.post("/vendor/shipping-templates", json=STANDARD)).json()
    second = (await alpha.post("/vendor/shipping-templates", json={**HEAVY, "is_default": True})).json()
    listed = (await alpha.get("/vendor/shipping-templates")).json()
    assert [(t["id"], t["is_default"]) for t in listed] == [(first["id"], False), (second["id"], True)]
    # Vendor B never reads or edits vendor A's templates, nor names them, nor touches A's products.
    url = f"/vendor/shipping-templates/{first['id']}"
    assert (await beta.get("/vendor/shipping-templates")).json() == []
    assert (await beta.get(url)).status_code == 404
    assert (await beta.put(url, json=HEAVY)).status_code == 404
    assert (await beta.delete(url)).status_code == 404
    kettle, hose = market["kettle"]["id"], market["hose"]["id"]
    assert (await beta.put(f"/vendor/products/{kettle}/shipping", json={"weight_grams": 5})).status_code == 404
    r = await beta.put(f"/vendor/products/{hose}/shipping", json={"template_id": first["id"]})
    assert r.status_code == 422 and "template" in r.json()["detail"]
    assert (await market["buyer"].get("/vendor/shipping-templates")).status_code == 403
    # Bad bodies: a clear 4xx, nothing written.
    before = await db.fetchval("SELECT count(*) FROM shipping_templates")
    bad = [
        {**STANDARD, "name": "Zero step", "default_rate": {"first_fee": 100, "extra_units": 0}},
        {**STANDARD, "name": "Negative", "default_rate": {"first_fee": -1}},
        {**STANDARD, "name": "Volume", "basis": "volume"},
        {**STANDARD, "name": "Extra", "colour": "red"},
        {**STANDARD, "name": "Country", "regions": [{"country": "France", "first_fee": 1}]},
    ]
    for body in bad:
        r = await alpha.post("/vendor/shipping-templates", json=body)
        assert r.status_code == 400, (body, r.text)
    twice = {**STANDARD, "name": "Twice", "regions": [{"country": "FR", "first_fee": 1}] * 2}
    assert (await alpha.post("/vendor/shipping-templates", json=twice)).status_code == 422
    assert (await alpha.post("/vendor/shipping-templates", json=STANDARD)).status_code == 409  # same name
    assert await db.fetchval("SELECT count(*) FROM shipping_templates") == before
    # The default stays the default until another is made it, and goes only as the last template.
    second_url = f"/vendor/shipping-templates/{second['id']}"
    assert (await alpha.put(second_url, json={**HEAVY, "is_default": False})).status_code == 409
    assert (await alpha.delete(second_url)).status_code == 409
    r = await alpha.put(url, json={**STANDARD, "name": "Standard (new)", "is_default": True})
    assert r.status_code == 200 and r.json()["is_default"] and r.json()["name"] == "Standard (new)"
    assert (await alpha.get(second_url)).json()["is_default"] is False
    assert (await alpha.delete(second_url)).status_code == 204
    assert (await alpha.delete(url)).status_code == 204  # the last one: the shop is back on the flat fee
    audit = await db.fetch("SELECT action FROM audit_log WHERE object_type = 'shipping_template' ORDER BY id")
    assert [a["action"] for a in audit][-3:] == [f"shipping_template.{a}" for a in ("updated", "deleted", "deleted")]


async def test_two_first_templates_at_once_leave_one_default(market: dict[str, Any], db: asyncpg.Connection) -> None:
    alpha = market["alpha"]
    bodies = [{**STANDARD, "name": f"Race {n}"} for n in range(4)]
    answers = await asyncio.gather(*(alpha.post("/vendor/shipping-templates", json=b) for b in bodies))
    assert [r.status_code for r in answers] == [201] * 4
    defaults = await db.fetchval("SELECT count(*) FROM shipping_templates WHERE vendor_id = $1 AND is_default",
                                 alpha.vendor_id)  # fmt: skip
    assert defaults == 1


async def shipped_order(shop: dict[str, Any], client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    """A paid order of the shop fixture's vendor alpha, shipped through the sandbox carrier."""
    alpha = shop["alpha"]
    order = (await shop["checkout"](pay=True))[alpha.vendor_id]
    assert (await alpha.post(f"/vendor/orders/{order['id']}/accept")).status_code == 200
    r = await alpha.post(f"/vendor/orders/{order['id']}/ship-with-carrier", json={"carrier": "sandbox"})
    assert r.status_code == 200, r.text
    return r.json()["order"]


async def post_event(client: AsyncTestClient[Litestar], body: bytes, signature: str) -> httpx.Response:
    return await client.post(WEBHOOK, content=body, headers={SIGNATURE_HEADER: signature})


async def test_the_carriers_signed_events_reach_the_buyer_and_deliver_the_order(
    shop: dict[str, Any], client: AsyncTestClient[Litestar], settings: Settings, db: asyncpg.Connection
) -> None:
    order = await shipped_order(shop, client)
    buyer, tracking = shop["buyer"], order["tracking_number"]
    assert order["status"] == "shipped" and order["carrier"] == "Sandbox Carrier" and tracking.startswith("SBX")
    carrier = SandboxCarrier(settings.carrier_webhook_secret)

    body, signature = carrier.event(tracking, TrackingType.PICKED_UP, "Berlin hub")
    assert (await post_event(client, body, signature)).json() == {"outcome": "applied"}
    assert (await post_event(client, body, signature)).json() == {"outcome": "duplicate"}  # the same event again
    timeline = (await buyer.get(f"/orders/{order['id']}/tracking")).json()
    assert timeline["integrated"] and timeline["status"] == "picked_up"
    assert [(e["type"], e["location"]) for e in timeline["events"]] == [("picked_up", "Berlin hub")]
    pushed = await db.fetch("SELECT topic, payload FROM events WHERE type = 'shipment.picked_up' ORDER BY id")
    assert [p["topic"] for p in pushed] == [
        topics.user_orders(buyer.id),
        topics.vendor_orders(shop["alpha"].vendor_id),
    ]
    assert pushed[0]["payload"]["order_id"] == order["id"]
    # Only the order's buyer and vendor read its tracking.
    assert (await shop["beta"].get(f"/vendor/orders/{order['id']}/tracking")).status_code == 404
    assert (await shop["alpha"].get(f"/vendor/orders/{order['id']}/tracking")).status_code == 200

    # Forged (another secret), stale (a captured event replayed later), unsigned, unknown parcel: refused.
    body, _ = carrier.event(tracking, TrackingType.DELIVERED)
    forged = SandboxCarrier("not the secret").sign(body)
    assert (await post_event(client, body, forged)).status_code == 401
    assert (await post_event(client, body, carrier.sign(body, int(time.time()) - 3600))).status_code == 401
    assert (await client.post(WEBHOOK, content=body)).status_code == 401
    unknown, unknown_signature = carrier.event("SBX-NO-SUCH", TrackingType.DELIVERED)
    assert (await post_event(client, unknown, unknown_signature)).status_code == 422
    junk = b'{"event_id": "x"}'
    assert (await post_event(client, junk, carrier.sign(junk))).status_code == 400
    assert (await buyer.get(f"/orders/{order['id']}")).json()["order"]["status"] == "shipped"
    assert len((await buyer.get(f"/orders/{order['id']}/tracking")).json()["events"]) == 1
    # Its carrier confirms delivery, so the vendor cannot type it in.
    r = await shop["alpha"].post(f"/vendor/orders/{order['id']}/deliver")
    assert r.status_code == 409 and "carrier" in r.json()["detail"]

    # An exception keeps the order shipped; delivered moves it, as the system; twice changes nothing more.
    body, signature = carrier.event(tracking, TrackingType.EXCEPTION, description="nobody home")
    assert (await post_event(client, body, signature)).json() == {"outcome": "applied"}
    body, signature = carrier.event(tracking, TrackingType.DELIVERED, "Berlin")
    answers = await asyncio.gather(post_event(client, body, signature), post_event(client, body, signature))
    assert sorted(r.json()["outcome"] for r in answers) == ["delivered", "duplicate"]
    detail = (await buyer.get(f"/orders/{order['id']}")).json()
    assert detail["order"]["status"] == "delivered"
    moves = [h for h in detail["history"] if h["to_status"] == "delivered"]
    assert len(moves) == 1 and moves[0]["actor_id"] is None and "Sandbox Carrier" in moves[0]["note"]
    timeline = (await buyer.get(f"/orders/{order['id']}/tracking")).json()
    assert [e["type"] for e in timeline["events"]] == ["picked_up", "exception", "delivered"]
    assert timeline["status"] == "delivered"
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'order.delivered'") == 2  # vendor, buyer


async def test_the_sandbox_carriers_own_side_posts_each_next_step_over_http(
    shop: dict[str, Any], client: AsyncTestClient[Litestar], app: Litestar
) -> None:
    order = await shipped_order(shop, client)
    # The carrier's side calls our webhook over HTTP; here that HTTP goes straight into the app under test.
    app.state.callbacks = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://marketplace")
    scan = f"/sandbox-carrier/{order['tracking_number']}/events"
    outcomes = [(await client.post(scan, json={})).json()["outcome"] for _ in range(4)]
    assert outcomes == ["applied", "applied", "applied", "delivered"]
    assert (await client.post(scan, json={})).status_code == 409  # nothing after delivered
    assert (await client.post("/sandbox-carrier/SBX-NOPE/events", json={})).status_code == 404
    timeline = (await shop["buyer"].get(f"/orders/{order['id']}/tracking")).json()
    assert [e["type"] for e in timeline["events"]] == ["picked_up", "in_transit", "out_for_delivery", "delivered"]
    await app.state.callbacks.aclose()


async def test_typed_tracking_numbers_still_work_and_show_no_timeline(shop: dict[str, Any]) -> None:
    alpha = shop["alpha"]
    order = (await shop["checkout"](pay=True))[alpha.vendor_id]
    await alpha.post(f"/vendor/orders/{order['id']}/accept")
    r = await alpha.post(f"/vendor/orders/{order['id']}/ship", json={"carrier": "DHL", "tracking_number": "JD0123"})
    assert r.status_code == 200
    timeline = (await shop["buyer"].get(f"/orders/{order['id']}/tracking")).json()
    assert (timeline["carrier"], timeline["tracking_number"], timeline["integrated"], timeline["events"]) == (
        "DHL", "JD0123", False, []
    )  # fmt: skip
    assert (await alpha.post(f"/vendor/orders/{order['id']}/deliver")).json()["order"]["status"] == "delivered"
    # Shipping an order that is not accepted through the carrier is the state machine's 409; nothing is opened.
    other = (await shop["checkout"](pay=True))[alpha.vendor_id]
    r = await alpha.post(f"/vendor/orders/{other['id']}/ship-with-carrier", json={})
    assert r.status_code == 409
    assert (await shop["beta"].post(f"/vendor/orders/{other['id']}/ship-with-carrier", json={})).status_code == 404


async def test_the_buyers_order_page_shows_the_tracking_timeline(
    shop: dict[str, Any], client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    from tests.test_web_pages import sign_in

    order = await shipped_order(shop, client)
    carrier = SandboxCarrier(settings.carrier_webhook_secret)
    await sign_in(client, shop["buyer"].email)
    page = (await client.get(f"/shop/orders/{order['id']}")).text
    assert 'id="order-tracking"' in page and "waiting for its first scan" in page
    assert 'data-feed-refresh="shipment."' in page  # the page's script refreshes it on carrier events
    for kind, where in ((TrackingType.PICKED_UP, "Berlin hub"), (TrackingType.IN_TRANSIT, "Leipzig")):
        body, signature = carrier.event(order["tracking_number"], kind, where)
        assert (await post_event(client, body, signature)).status_code == 200
    fragment = (await client.get(f"/shop/orders/{order['id']}/tracking")).text
    assert 'data-tracking-events="2"' in fragment
    assert fragment.index("Leipzig") < fragment.index("Berlin hub")  # newest first
    assert (await client.get(f"/shop/orders/{order['id'] + 999}/tracking")).status_code == 404
