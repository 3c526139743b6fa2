"""The customer-service desk (/support/...): only support (and admins) reach it; it finds orders, checkouts,
payments, buyers and shops; it cancels with a refund, settles a parcel lost in transit (refund or reship) with
the ledger balanced, extends an after-sales window and keeps internal notes; every action needs a reason and
is audit-logged, and one without a reason changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Actor, sign_up

SHIP = {"carrier": "UPS", "tracking_number": "1Z999AA10123456784"}


async def support_actor(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    """A signed-in customer-service agent (the support role)."""
    actor = await sign_up(client, "helpdesk@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,support}' WHERE id = $1", actor.id)
    return actor


@pytest.fixture
async def support(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    return await support_actor(client, db)


async def shipped_order(shop: dict[str, Any], tracking: str = SHIP["tracking_number"]) -> dict[str, Any]:
    """A paid checkout whose kettle order (Alpha's, 2 kettles at 30.00 + shipping) is shipped."""
    orders = await shop["checkout"](pay=True)
    order = orders[shop["alpha"].vendor_id]
    for step, body in (("accept", None), ("ship", SHIP | {"tracking_number": tracking})):
        r = await shop["alpha"].post(f"/vendor/orders/{order['id']}/{step}", json=body)
        assert r.status_code == 200, r.text
    return orders


async def trial(admin: Actor) -> dict[str, int]:
    body = (await admin.get("/admin/settlement/trial-balance")).json()
    assert body["total"] == 0
    return {a["account"]: a["balance"] for a in body["accounts"]}


async def test_a_lost_parcel_ends_refunded_by_support_with_the_ledger_balanced(
    shop: dict[str, Any], support: Actor, admin: Actor, db: asyncpg.Connection
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    orders = await shipped_order(shop)
    order, other = orders[alpha.vendor_id], orders[shop["beta"].vendor_id]
    on_hand = await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", shop["kettle"]["skus"][0]["id"])
    r = await support.post(
        f"/support/orders/{order['id']}/lost", json={"remedy": "refund", "reason": "carrier lost it"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["order"]["status"] == "cancelled"
    assert await db.fetchval("SELECT refunded_amount FROM payments") == order["total"]
    accounts = await trial(admin)
    assert accounts["gateway"] == other["total"]  # only the other shop's order is still held
    assert accounts[f"vendor:{alpha.vendor_id}"] == 0  # the lost order's posting reversed exactly
    assert (await alpha.get("/vendor/settlement/balance")).json()["balance"] == 0
    # The units are gone with the parcel: nothing comes back onto the shelf.
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", shop["kettle"]["skus"][0]["id"]) == on_hand
    audit = await db.fetchrow("SELECT actor_id, after FROM audit_log WHERE action = 'support.lost_in_transit'")
    assert audit["actor_id"] == support.id
    assert audit["after"]["reason"] == "carrier lost it" and audit["after"]["refunded"] == order["total"]
    mine = await buyer.get(f"/orders/{order['id']}")
    assert mine.json()["order"]["status"] == "cancelled"
    view = (await support.get(f"/support/orders/{order['id']}")).json()
    assert view["refunded_total"] == order["total"]
    assert [n["body"] for n in view["notes"]] == ["Lost in transit, refunded and cancelled: carrier lost it"]
    assert "order.cancelled" in [e["type"] for e in view["events"]]
    assert view["actions"] == []
    # A second claim of the same loss finds the order cancelled: nothing is refunded twice.
    again = await support.post(f"/support/orders/{order['id']}/lost", json={"remedy": "refund", "reason": "again"})
    assert again.status_code == 409
    assert await db.fetchval("SELECT refunded_amount FROM payments") == order["total"]


async def test_two_agents_marking_one_parcel_lost_at_once_refund_it_once(
    shop: dict[str, Any], support: Actor, admin: Actor, db: asyncpg.Connection
) -> None:
    order = (await shipped_order(shop))[shop["alpha"].vendor_id]
    body = {"remedy": "refund", "reason": "carrier confirmed the loss"}
    replies = await asyncio.gather(*(support.post(f"/support/orders/{order['id']}/lost", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in replies) == [200, 409]
    assert await db.fetchval("SELECT refunded_amount FROM payments") == order["total"]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'support.lost_in_transit'") == 1
    await trial(admin)


async def test_a_lost_parcel_reshipped_goes_back_to_the_shop_and_takes_units_off_its_shelf(
    shop: dict[str, Any], support: Actor, db: asyncpg.Connection
) -> None:
    alpha = shop["alpha"]
    order = (await shipped_order(shop))[alpha.vendor_id]
    sku = shop["kettle"]["skus"][0]["id"]
    on_hand = await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku)
    r = await support.post(f"/support/orders/{order['id']}/lost", json={"remedy": "reship", "reason": "lost at depot"})
    assert r.status_code == 200, r.text
    assert r.json()["order"]["status"] == "accepted"
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku) == on_hand - 2
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 0
    ship = SHIP | {"tracking_number": "NEWTRACK42"}
    r = await alpha.post(f"/vendor/orders/{order['id']}/ship", json=ship)
    assert r.status_code == 200, r.text
    assert r.json()["order"]["tracking_number"] == "NEWTRACK42"


async def test_support_cancels_a_paid_order_with_a_refund_and_the_stock_back(
    shop: dict[str, Any], support: Actor, admin: Actor, db: asyncpg.Connection
) -> None:
    order = (await shop["checkout"](pay=True))[shop["alpha"].vendor_id]
    sku = shop["kettle"]["skus"][0]["id"]
    on_hand = await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku)
    r = await support.post(f"/support/orders/{order['id']}/cancel", json={"reason": "buyer called: wrong size"})
    assert r.status_code == 200, r.text
    assert r.json()["order"]["status"] == "cancelled"
    assert r.json()["order"]["cancel_reason"] == "customer service: buyer called: wrong size"
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku) == on_hand + 2
    assert await db.fetchval("SELECT refunded_amount FROM payments") == order["total"]
    assert (await trial(admin))[f"vendor:{shop['alpha'].vendor_id}"] == 0
    after = await db.fetchval("SELECT after FROM audit_log WHERE action = 'support.order_cancelled'")
    assert after["refunded"] == order["total"] and after["reason"] == "buyer called: wrong size"


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("lost", {"remedy": "refund"}),
        ("lost", {"remedy": "refund", "reason": "   "}),
        ("cancel", {}),
        ("cancel", {"reason": ""}),
        ("notes", {"body": " \n "}),
        ("aftersales-window", {"days": 7}),
    ],
)
async def test_a_support_action_without_a_reason_is_refused_and_changes_nothing(
    shop: dict[str, Any], support: Actor, db: asyncpg.Connection, action: str, body: dict[str, Any]
) -> None:
    order = (await shipped_order(shop))[shop["alpha"].vendor_id]
    r = await support.post(f"/support/orders/{order['id']}/{action}", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "shipped"
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'support.%'") == 0
    assert await db.fetchval("SELECT count(*) FROM support_notes") == 0
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 0


async def test_only_support_and_admins_reach_the_desk(
    client: AsyncTestClient[Litestar], shop: dict[str, Any], support: Actor, admin: Actor
) -> None:
    order = (await shop["checkout"](pay=True))[shop["alpha"].vendor_id]
    reads = ["/support/search?q=Alpha", f"/support/orders/{order['id']}", "/support/disputes/queue"]
    writes = [(f"/support/orders/{order['id']}/cancel", {"reason": "not mine to do"}),
              (f"/support/orders/{order['id']}/notes", {"body": "sneaky note"})]  # fmt: skip
    for outsider in (shop["buyer"], shop["alpha"]):
        for path in reads:
            r = await outsider.get(path)
            assert r.status_code == 403, (path, r.text)
            assert "support" in r.json()["detail"]
        for path, body in writes:
            assert (await outsider.post(path, json=body)).status_code == 403
    assert (await client.get(reads[1])).status_code == 401
    assert (await client.post(writes[0][0], json=writes[0][1])).status_code == 401
    for staff in (support, admin):
        assert (await staff.get(reads[1])).status_code == 200
    assert (await shop["buyer"].get(f"/orders/{order['id']}")).json()["order"]["status"] == "paid"


async def test_the_desk_finds_orders_by_id_email_shop_and_tracking_number(shop: dict[str, Any], support: Actor) -> None:
    orders = await shipped_order(shop, tracking="FINDME123")
    order = orders[shop["alpha"].vendor_id]

    async def found(q: str, **params: Any) -> list[tuple[str, int]]:
        r = await support.get("/support/search", params={"q": q, **params})
        assert r.status_code == 200, r.text
        return [(h["kind"], h["id"]) for h in r.json()["items"]]

    assert ("order", order["id"]) in await found(str(order["id"]))
    assert ("order", order["id"]) in await found(f"#{order['id']}")
    assert await found("FINDME123") == [("order", order["id"])]
    by_email = await found(shop["buyer"].email)
    assert {("order", o["id"]) for o in orders.values() if "id" in o} <= set(by_email)
    assert ("buyer", shop["buyer"].id) in by_email
    # Part of a name: the shop Alpha, and its owner's account (alpha@example.com).
    assert await found("lph") == [("buyer", shop["alpha"].id), ("shop", shop["alpha"].vendor_id)]
    assert await found("100%_") == []  # wildcards are taken literally
    first = await support.get("/support/search", params={"q": shop["buyer"].email, "limit": 1})
    assert first.json()["total"] == len(by_email) and first.json()["pages"] == len(by_email)
    second = await found(shop["buyer"].email, limit=1, page=2)
    assert second == by_email[1:2]
    checkout = (await support.get(f"/support/checkouts/{order['checkout_id']}")).json()
    assert checkout["buyer_id"] == shop["buyer"].id and checkout["payments"][0]["status"] == "succeeded"
    buyer = (await support.get(f"/support/buyers/{shop['buyer'].id}")).json()
    assert order["id"] in [o["id"] for o in buyer["orders"]]
    theirs = (await support.get(f"/support/shops/{shop['alpha'].vendor_id}")).json()
    assert [o["id"] for o in theirs["orders"]] == [order["id"]]
    assert (await support.get("/support/orders/999999")).status_code == 404


async def test_extending_the_window_lets_the_buyer_ask_for_a_return_after_it_closed(
    shop: dict[str, Any], support: Actor, db: asyncpg.Connection
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    order = (await shipped_order(shop))[alpha.vendor_id]
    assert (await alpha.post(f"/vendor/orders/{order['id']}/deliver")).status_code == 200
    await db.execute(
        "UPDATE order_history SET at = now() - interval '20 days' WHERE order_id = $1 AND to_status = 'delivered'",
        order["id"],
    )
    claim = {"kind": "refund_only", "reason": "stopped working",
             "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}]}  # fmt: skip
    assert (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim)).status_code == 409
    r = await support.post(f"/support/orders/{order['id']}/aftersales-window", json={"days": 7, "reason": "goodwill"})
    assert r.status_code == 200, r.text
    assert r.json()["extended"] is True
    assert (await buyer.post(f"/orders/{order['id']}/aftersales", json=claim)).status_code == 201
    view = (await support.get(f"/support/orders/{order['id']}")).json()
    assert [a["action"] for a in view["audit"]] == ["support.aftersales_window_extended"]
    assert view["audit"][0]["after"]["reason"] == "goodwill"
    assert len(view["aftersales"]) == 1
    paid = await shop["checkout"](pay=True)  # not delivered: there is no window to extend
    late = await support.post(
        f"/support/orders/{paid[alpha.vendor_id]['id']}/aftersales-window", json={"days": 7, "reason": "goodwill"}
    )
    assert late.status_code == 409


async def test_internal_notes_are_for_staff_only(shop: dict[str, Any], support: Actor, db: asyncpg.Connection) -> None:
    order = (await shop["checkout"](pay=True))[shop["alpha"].vendor_id]
    r = await support.post(f"/support/orders/{order['id']}/notes", json={"body": "buyer is travelling until May"})
    assert r.status_code == 201, r.text
    assert r.json()["author_id"] == support.id
    mine = await shop["buyer"].get(f"/orders/{order['id']}")
    assert "travelling" not in mine.text
    assert "travelling" not in (await shop["alpha"].get(f"/vendor/orders/{order['id']}")).text
    entry = await db.fetchrow("SELECT actor_id, object_id FROM audit_log WHERE action = 'support.note_added'")
    assert (entry["actor_id"], entry["object_id"]) == (support.id, str(order["id"]))
