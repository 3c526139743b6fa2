"""After-sales: returns, exchanges and refund-only requests, their thread, refunds and restocking."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import sign_up

SHIP = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
BACK = {"carrier": "DHL", "tracking_number": "RET0000123"}


async def delivered_order(shop: dict[str, Any]) -> dict[str, Any]:
    """A paid and delivered order of 2 kettles at 3000 (alpha's part of the checkout)."""
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order = orders[alpha.vendor_id]
    for step, body in [("accept", None), ("ship", SHIP), ("deliver", None)]:
        assert (await alpha.post(f"/vendor/orders/{order['id']}/{step}", json=body)).status_code == 200
    return order


def claim(order: dict[str, Any], kind: str, quantity: int = 1) -> dict[str, Any]:
    line = order["lines"][0]["id"]
    return {"kind": kind, "reason": "arrived dented", "lines": [{"order_line_id": line, "quantity": quantity}]}


async def test_return_is_approved_shipped_received_refunded_and_restocked(
    shop: dict[str, Any], admin: Any, db: asyncpg.Connection
) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]
    r = await buyer.post(f"/orders/{order['id']}/aftersales", json={**claim(order, "return"), "message": "Photos?"})
    assert r.status_code == 201, r.text
    request = r.json()
    assert (request["status"], request["refund_cap"]) == ("requested", 3000)
    await alpha.post(f"/vendor/aftersales/{request['id']}/messages", json={"body": "Please send it back"})
    await admin.post(f"/admin/aftersales/{request['id']}/messages", json={"body": "Marketplace here: agreed"})
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/approve")).json()["status"] == "approved"
    assert (await buyer.post(f"/aftersales/{request['id']}/return-shipped", json=BACK)).json()[
        "return_tracking"
    ] == "RET0000123"
    before = await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", kettle_sku)
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/received", json={"restock": True})).status_code == 200
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", kettle_sku) == before + 1
    # Partial refund: 2500 of the 3000 the request covers (the kettle came back scratched).
    done = (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={"amount": 2500})).json()
    assert (done["status"], done["refunded_amount"]) == ("refunded", 2500)
    assert [m["author_role"] for m in done["messages"]] == ["buyer", "vendor", "admin"]
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 2500
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    owed = (await alpha.get("/vendor/settlement/balance")).json()["balance"]
    assert owed == 5400 - (2500 - 250)  # the vendor gives back the refund less its share of commission


async def test_refund_only_and_refund_limits(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only", 2))).json()
    assert request["refund_cap"] == 6000
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).status_code == 409  # not approved
    await alpha.post(f"/vendor/aftersales/{request['id']}/approve")
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={"amount": 6001})).status_code == 422
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).json()["refunded_amount"] == 6000
    # Both units are claimed now; nothing more can be asked for on that line.
    r = await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return"))
    assert r.status_code == 409


async def add_variant(shop: dict[str, Any], code: str = "BLUE", stock: int = 5) -> int:
    """Another SKU of the kettle (the fixture's has one), for exchanges."""
    r = await shop["alpha"].post(f"/vendor/products/{shop['kettle']['id']}/skus",
                                 json={"code": code, "price": 3000, "stock": stock})  # fmt: skip
    assert r.status_code == 201, r.text
    return next(s["id"] for s in r.json()["skus"] if s["code"] == code)


def exchange(order: dict[str, Any], replacement: int | None, quantity: int = 1) -> dict[str, Any]:
    body = claim(order, "exchange", quantity)
    if replacement is not None:
        body["lines"][0]["replacement_sku_id"] = replacement
    return body


async def test_exchange_ships_the_other_variant_asked_for(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]
    blue = await add_variant(shop)
    r = await buyer.post(f"/orders/{order['id']}/aftersales", json=exchange(order, blue))
    assert r.status_code == 201, r.text
    request = r.json()
    assert (request["refund_cap"], request["lines"][0]["replacement_sku_id"]) == (0, blue)
    await alpha.post(f"/vendor/aftersales/{request['id']}/approve")
    await buyer.post(f"/aftersales/{request['id']}/return-shipped", json=BACK)
    await alpha.post(f"/vendor/aftersales/{request['id']}/received", json={"restock": True})
    stock = "SELECT on_hand FROM skus WHERE id = $1"
    before = (await db.fetchval(stock, kettle_sku), await db.fetchval(stock, blue))
    r = await alpha.post(f"/vendor/aftersales/{request['id']}/ship-replacement", json=SHIP)
    assert r.json()["status"] == "replacement_shipped"
    # The blue kettle leaves the shelf; the returned one stays where receiving put it.
    assert (await db.fetchval(stock, kettle_sku), await db.fetchval(stock, blue)) == (before[0], before[1] - 1)
    assert (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).status_code == 409


async def test_an_exchange_must_name_another_existing_variant_of_the_same_product(
    shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    order = await delivered_order(shop)
    buyer = shop["buyer"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]
    hose_sku = shop["hose"]["skus"][0]["id"]
    url = f"/orders/{order['id']}/aftersales"
    # The kettle comes in one variant only: nothing to exchange it for.
    r = await buyer.post(url, json=exchange(order, None))
    assert r.status_code == 422 and "one variant only" in r.json()["detail"], r.text
    assert (await buyer.post(url, json=exchange(order, kettle_sku))).status_code == 422
    blue = await add_variant(shop)
    r = await buyer.post(url, json=exchange(order, None))
    assert r.status_code == 422 and r.json()["variants"] == [blue], r.text
    for wrong in (kettle_sku, hose_sku, 999_999):  # the same variant, another product's, none at all
        r = await buyer.post(url, json=exchange(order, wrong))
        assert r.status_code == 422, (wrong, r.text)
    assert (
        await buyer.post(url, json=claim(order, "return") | {"lines": exchange(order, blue)["lines"]})
    ).status_code == 422
    assert await db.fetchval("SELECT count(*) FROM aftersales_requests") == 0
    assert (await buyer.post(url, json=exchange(order, blue))).status_code == 201


async def test_an_admin_overturns_a_vendors_rejection_with_a_reason_and_an_audit_record(
    shop: dict[str, Any], admin: Any, db: asyncpg.Connection
) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only"))).json()
    url = f"/admin/aftersales/{request['id']}/overturn"
    reason = {"reason": "the photos show the dent"}
    assert (await admin.post(url, json=reason)).status_code == 409  # nothing to overturn yet
    await alpha.post(f"/vendor/aftersales/{request['id']}/reject", json={"note": "looks fine to us"})
    # Neither the vendor nor the buyer may overrule it.
    assert (await alpha.post(url, json=reason)).status_code == 403
    assert (await buyer.post(url, json=reason)).status_code == 403
    assert (await admin.post(url, json={})).status_code == 400
    r = await admin.post(url, json=reason)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["decision_note"]) == ("approved", "the photos show the dent")
    assert "overturned" in body["messages"][-1]["body"] and body["messages"][-1]["author_role"] == "admin"
    audit = await db.fetchrow("SELECT actor_id, object_id, before, after FROM audit_log "
                              "WHERE action = 'aftersales.rejection_overturned'")  # fmt: skip
    assert (audit["actor_id"], audit["object_id"]) == (admin.id, str(request["id"]))
    assert audit["before"]["status"] == "rejected" and audit["after"]["reason"] == "the photos show the dent"
    assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'aftersales.approved'") == 2  # both feeds
    refunded = (await alpha.post(f"/vendor/aftersales/{request['id']}/refund", json={})).json()
    assert (refunded["status"], refunded["refunded_amount"]) == ("refunded", 3000)


async def test_an_admin_can_overturn_straight_to_the_refund_unless_the_buyer_asked_again(
    shop: dict[str, Any], admin: Any, db: asyncpg.Connection
) -> None:
    order = await delivered_order(shop)
    buyer, alpha = shop["buyer"], shop["alpha"]
    first = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return", 2))).json()
    await alpha.post(f"/vendor/aftersales/{first['id']}/reject", json={"note": "used"})
    again = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "refund_only"))).json()
    # Two units rejected, one of them asked for again: the first request cannot come back whole.
    r = await admin.post(f"/admin/aftersales/{first['id']}/overturn", json={"reason": "policy allows it"})
    assert r.status_code == 409, r.text
    await buyer.post(f"/aftersales/{again['id']}/withdraw")
    r = await admin.post(f"/admin/aftersales/{first['id']}/overturn",
                         json={"reason": "policy allows it", "refund": True, "amount": 5000})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["refunded_amount"]) == ("refunded", 5000)
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 5000
    assert await db.fetchval("SELECT sum(amount) FROM ledger_entries") == 0
    after = await db.fetchval("SELECT after FROM audit_log WHERE action = 'aftersales.rejection_overturned'")
    assert (after["status"], after["refunded_amount"]) == ("refunded", 5000)


async def test_requests_need_a_delivered_order_within_the_window(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    orders = await shop["checkout"](pay=True)
    buyer = shop["buyer"]
    undelivered = orders[shop["alpha"].vendor_id]
    assert (
        await buyer.post(f"/orders/{undelivered['id']}/aftersales", json=claim(undelivered, "return"))
    ).status_code == 409
    order = await delivered_order(shop)
    await db.execute("UPDATE order_history SET at = now() - interval '15 days' WHERE order_id = $1", order["id"])
    assert (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return"))).status_code == 409
    other_line = {"kind": "return", "reason": "not mine", "lines": [{"order_line_id": 999999, "quantity": 1}]}
    await db.execute("UPDATE order_history SET at = now() WHERE order_id = $1", order["id"])
    assert (await buyer.post(f"/orders/{order['id']}/aftersales", json=other_line)).status_code == 422
    assert (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return", 3))).status_code == 409


async def test_nobody_else_sees_or_moves_a_request(client: AsyncTestClient[Litestar], shop: dict[str, Any]) -> None:
    order = await delivered_order(shop)
    buyer, beta = shop["buyer"], shop["beta"]
    request = (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return"))).json()
    stranger = await sign_up(client, "nosy@example.com")
    assert (await stranger.get(f"/aftersales/{request['id']}")).status_code == 404
    assert (await stranger.post(f"/aftersales/{request['id']}/messages", json={"body": "hi"})).status_code == 404
    assert (await stranger.post(f"/orders/{order['id']}/aftersales", json=claim(order, "return"))).status_code == 404
    assert (await beta.get(f"/vendor/aftersales/{request['id']}")).status_code == 404
    assert (await beta.post(f"/vendor/aftersales/{request['id']}/approve")).status_code == 404
    assert (await buyer.post(f"/vendor/aftersales/{request['id']}/approve")).status_code == 403
    assert [r["id"] for r in (await shop["alpha"].get("/vendor/aftersales")).json()["items"]] == [request["id"]]
    assert (await beta.get("/vendor/aftersales")).json()["items"] == []
