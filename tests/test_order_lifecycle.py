"""The order state machine: who may move an order where, what each move records, and what cancelling
gives back."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core.db import create_pool
from marketplace.workflows.sweeper import complete_delivered
from tests.conftest import sign_up

SHIP = {"carrier": "DHL", "tracking_number": "JD0146000012345", "estimated_arrival": "2026-12-01"}


async def test_an_order_goes_from_paid_to_completed(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    orders = await shop["checkout"](pay=True)
    alpha, buyer = shop["alpha"], shop["buyer"]
    order_id = orders[alpha.vendor_id]["id"]
    assert (await alpha.post(f"/vendor/orders/{order_id}/accept")).json()["order"]["status"] == "accepted"
    shipped = (await alpha.post(f"/vendor/orders/{order_id}/ship", json=SHIP)).json()["order"]
    assert (shipped["status"], shipped["carrier"], shipped["tracking_number"]) == ("shipped", "DHL", "JD0146000012345")
    assert shipped["estimated_arrival"] == "2026-12-01"
    assert (await alpha.post(f"/vendor/orders/{order_id}/deliver")).json()["order"]["status"] == "delivered"
    done = (await buyer.post(f"/orders/{order_id}/confirm-receipt")).json()
    assert done["order"]["status"] == "completed"
    assert [h["to_status"] for h in done["history"]] == [
        "pending_payment", "paid", "accepted", "shipped", "delivered", "completed",
    ]  # fmt: skip
    types = [
        r["type"]
        for r in await db.fetch("SELECT type FROM events WHERE topic = $1 ORDER BY id", f"user:{buyer.id}:orders")
    ]
    assert [t for t in types if t != "order.placed" and t != "order.paid"] == [
        "order.accepted", "order.shipped", "order.delivered", "order.completed",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        ("alpha", "ship", SHIP),  # not accepted yet
        ("alpha", "deliver", None),
        ("buyer", "confirm-receipt", None),  # not delivered
    ],
)
async def test_out_of_order_moves_are_conflicts(shop: dict[str, Any], who: str, path: str, body: Any) -> None:
    orders = await shop["checkout"](pay=True)
    order_id = orders[shop["alpha"].vendor_id]["id"]
    prefix = "/vendor/orders" if who == "alpha" else "/orders"
    r = await shop[who].post(f"{prefix}/{order_id}/{path}", json=body)
    assert r.status_code == 409 and r.json()["order_status"] == "paid"


async def test_unpaid_orders_cannot_be_accepted_and_shipped_ones_cannot_be_cancelled(shop: dict[str, Any]) -> None:
    orders = await shop["checkout"](pay=False)
    alpha = shop["alpha"]
    order_id = orders[alpha.vendor_id]["id"]
    assert (await alpha.post(f"/vendor/orders/{order_id}/accept")).status_code == 409
    paid = await shop["checkout"](pay=True)
    paid_id = paid[alpha.vendor_id]["id"]
    await alpha.post(f"/vendor/orders/{paid_id}/accept")
    await alpha.post(f"/vendor/orders/{paid_id}/ship", json=SHIP)
    r = await shop["buyer"].post(f"/orders/{paid_id}/cancel", json={"reason": "changed my mind"})
    assert r.status_code == 409


async def test_nobody_moves_orders_that_are_not_theirs(client: AsyncTestClient[Litestar], shop: dict[str, Any]) -> None:
    orders = await shop["checkout"](pay=True)
    order_id = orders[shop["alpha"].vendor_id]["id"]
    assert (await shop["beta"].post(f"/vendor/orders/{order_id}/accept")).status_code == 404
    stranger = await sign_up(client, "stranger@example.com")
    assert (await stranger.post(f"/orders/{order_id}/cancel", json={"reason": "not mine"})).status_code == 404
    assert (await shop["buyer"].post(f"/vendor/orders/{order_id}/accept")).status_code == 403


async def test_cancelling_an_unpaid_order_releases_its_reservation(
    shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    orders = await shop["checkout"](pay=False)
    buyer = shop["buyer"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]
    r = await buyer.post(f"/orders/{orders[shop['alpha'].vendor_id]['id']}/cancel", json={"reason": "too slow"})
    assert r.status_code == 200 and r.json()["order"]["cancel_reason"] == "too slow"
    assert tuple(await db.fetchrow("SELECT on_hand, reserved FROM skus WHERE id = $1", kettle_sku)) == (10, 0)
    assert await db.fetchval("SELECT status FROM checkouts") == "pending_payment"  # the hose order is still open
    await buyer.post(f"/orders/{orders[shop['beta'].vendor_id]['id']}/cancel", json={"reason": "too slow"})
    assert await db.fetchval("SELECT status FROM checkouts") == "cancelled"


async def test_vendor_rejecting_a_paid_order_restocks_and_refunds_that_order_only(
    shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    kettle_sku = shop["kettle"]["skus"][0]["id"]
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", kettle_sku) == 8
    r = await alpha.post(f"/vendor/orders/{orders[alpha.vendor_id]['id']}/reject", json={"reason": "out of stock"})
    assert r.status_code == 200
    assert await db.fetchval("SELECT on_hand FROM skus WHERE id = $1", kettle_sku) == 10
    payment = await db.fetchrow("SELECT status, amount, refunded_amount FROM payments")
    assert (payment["status"], payment["refunded_amount"]) == ("succeeded", orders[alpha.vendor_id]["total"])
    assert await db.fetchval("SELECT status FROM orders WHERE vendor_id = $1", shop["beta"].vendor_id) == "paid"
    moves = await db.fetch("SELECT delta, reason FROM stock_movements WHERE sku_id = $1 ORDER BY id", kettle_sku)
    assert [(m["delta"], m["reason"]) for m in moves] == [(10, "initial stock"), (-2, "sold"), (2, "order cancelled")]


async def test_accept_and_cancel_racing_end_in_one_state(shop: dict[str, Any], db: asyncpg.Connection) -> None:
    orders = await shop["checkout"](pay=True)
    order_id = orders[shop["alpha"].vendor_id]["id"]
    accept, cancel = await asyncio.gather(
        shop["alpha"].post(f"/vendor/orders/{order_id}/accept"),
        shop["buyer"].post(f"/orders/{order_id}/cancel", json={"reason": "race"}),
    )
    # Either order of events is legal (accepted orders may still be cancelled); both requests succeed and
    # the history records them in the order they committed.
    assert {accept.status_code, cancel.status_code} <= {200, 409}
    history = [
        r["to_status"]
        for r in await db.fetch("SELECT to_status FROM order_history WHERE order_id = $1 ORDER BY id", order_id)
    ]
    final = await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id)
    assert history[-1] == final and history.count("cancelled") <= 1
    refunded = await db.fetchval("SELECT refunded_amount FROM payments")
    assert refunded == (orders[shop["alpha"].vendor_id]["total"] if final == "cancelled" else 0)


async def test_unpaid_order_cannot_be_cancelled_while_its_payment_is_under_way(shop: dict[str, Any]) -> None:
    orders = await shop["checkout"](pay=False)
    buyer = shop["buyer"]
    checkout_id = orders["checkout"]["id"]
    assert (await buyer.post(f"/checkouts/{checkout_id}/payments", json={})).status_code == 201
    r = await buyer.post(f"/orders/{orders[shop['alpha'].vendor_id]['id']}/cancel", json={"reason": "changed mind"})
    assert r.status_code == 409


async def test_delivered_orders_complete_themselves_after_the_confirmation_period(
    shop: dict[str, Any], database_url: str, db: asyncpg.Connection
) -> None:
    orders = await shop["checkout"](pay=True)
    alpha = shop["alpha"]
    order_id = orders[alpha.vendor_id]["id"]
    for step, body in [("accept", None), ("ship", SHIP), ("deliver", None)]:
        await alpha.post(f"/vendor/orders/{order_id}/{step}", json=body)
    pool = await create_pool(database_url, 1, 2)
    try:
        assert await complete_delivered(pool, 14) == 0
        await db.execute("UPDATE orders SET updated_at = now() - interval '15 days' WHERE id = $1", order_id)
        assert await complete_delivered(pool, 14) == 1
    finally:
        await pool.close()
    detail = (await shop["buyer"].get(f"/orders/{order_id}")).json()
    assert detail["order"]["status"] == "completed" and "automatically" in detail["history"][-1]["note"]
