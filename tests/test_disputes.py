"""Disputes (/disputes, /vendor/disputes, /support/disputes): not received only after the expected delivery date,
not as described on delivered orders, complaints against a shop; the thread between buyer, shop and support; the
shop's answer window, whose end escalates the dispute to support (the sweeper's call); support's decision posted
through the payment's refund path, capped at what is left; every change an event on the buyer's and the shop's
topics; each party sees only its own disputes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.disputes.service import escalate_overdue
from marketplace.settings import Settings
from tests.conftest import Actor, sign_up
from tests.test_support import SHIP, shipped_order, support_actor, trial

YESTERDAY = (date.today() - timedelta(days=2)).isoformat()


@pytest.fixture
async def support(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    return await support_actor(client, db)


async def late_parcel(shop: dict[str, Any]) -> dict[str, Any]:
    """Alpha's order of the shop's checkout, shipped with an arrival estimated two days ago."""
    orders = await shop["checkout"](pay=True)
    order = orders[shop["alpha"].vendor_id]
    alpha = shop["alpha"]
    assert (await alpha.post(f"/vendor/orders/{order['id']}/accept")).status_code == 200
    r = await alpha.post(f"/vendor/orders/{order['id']}/ship", json=SHIP | {"estimated_arrival": YESTERDAY})
    assert r.status_code == 200, r.text
    return order


async def open_dispute(buyer: Actor, order_id: int, kind: str = "not_received") -> dict[str, Any]:
    r = await buyer.post("/disputes", json={"kind": kind, "order_id": order_id, "reason": "never came", "message": "?"})
    assert r.status_code == 201, r.text
    return r.json()


async def events_of(db: asyncpg.Connection, topic: str, prefix: str = "dispute.") -> list[str]:
    rows = await db.fetch("SELECT type FROM events WHERE topic = $1 AND type LIKE $2 ORDER BY id", topic, prefix + "%")
    return [r["type"] for r in rows]


async def test_not_received_opens_only_after_the_expected_delivery_date(
    shop: dict[str, Any], db: asyncpg.Connection
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    order = (await shipped_order(shop))[alpha.vendor_id]  # no estimate: shipped just now + 10 days in transit
    body = {"kind": "not_received", "order_id": order["id"], "reason": "nothing yet"}
    r = await buyer.post("/disputes", json=body)
    assert r.status_code == 409 and "expected by" in r.json()["detail"]
    await db.execute("UPDATE order_history SET at = now() - interval '11 days' WHERE to_status = 'shipped'")
    r = await buyer.post("/disputes", json=body)
    assert r.status_code == 201, r.text
    dispute = r.json()
    assert (dispute["status"], dispute["vendor_id"], dispute["buyer_id"]) == ("open", alpha.vendor_id, buyer.id)
    assert await events_of(db, topics.user_orders(buyer.id)) == ["dispute.opened"]
    assert await events_of(db, topics.vendor_aftersales(alpha.vendor_id)) == ["dispute.opened"]
    paid = (await shop["checkout"](pay=True))[alpha.vendor_id]
    refused = await buyer.post("/disputes", json=body | {"order_id": paid["id"]})
    assert refused.status_code == 409  # not shipped yet
    described = await buyer.post("/disputes", json=body | {"kind": "not_as_described"})
    assert described.status_code == 409 and "delivered" in described.json()["detail"]


async def test_a_dispute_the_shop_ignores_escalates_at_its_deadline(
    shop: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    alpha, buyer = shop["alpha"], shop["buyer"]
    dispute = await open_dispute(buyer, (await late_parcel(shop))["id"])
    due = datetime.fromisoformat(dispute["answer_due"])
    created = datetime.fromisoformat(dispute["created_at"])
    assert due - created == timedelta(hours=settings.dispute_answer_hours)
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        assert await escalate_overdue(pool) == 0  # before the deadline nothing happens
        assert (await buyer.get(f"/disputes/{dispute['id']}")).json()["status"] == "open"
        await db.execute("UPDATE disputes SET answer_due = now() - interval '1 second' WHERE id = $1", dispute["id"])
        assert await escalate_overdue(pool) == 1
        assert await escalate_overdue(pool) == 0  # once
    finally:
        await pool.close()
    seen = (await buyer.get(f"/disputes/{dispute['id']}")).json()
    assert seen["status"] == "escalated" and seen["escalated_at"] is not None
    assert seen["messages"][-1]["author_role"] == "system"
    for topic in (topics.user_orders(buyer.id), topics.vendor_aftersales(alpha.vendor_id)):
        assert await events_of(db, topic) == ["dispute.opened", "dispute.escalated"]
    # Escalated disputes lead support's queue.
    assert (await alpha.post(f"/vendor/disputes/{dispute['id']}/messages", json={"body": "late"})).status_code == 200


async def test_a_shop_that_answers_in_time_stops_the_clock_and_the_sweeper_escalates_what_runs_out(
    app: Litestar, shop: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    """The app's own sweeper loop escalates overdue disputes; a dispute the shop answered stays with the shop
    until the buyer escalates it."""
    alpha, buyer = shop["alpha"], shop["buyer"]
    answered = await open_dispute(buyer, (await late_parcel(shop))["id"])
    ignored = await open_dispute(buyer, (await late_parcel(shop))["id"])
    r = await alpha.post(f"/vendor/disputes/{answered['id']}/messages", json={"body": "Sent again today."})
    assert r.status_code == 200 and r.json()["status"] == "answered"
    await db.execute("UPDATE disputes SET answer_due = now() - interval '1 second'")
    for _ in range(100):  # the sweeper runs every sweeper_interval_seconds in the app's lifespan
        if await db.fetchval("SELECT status FROM disputes WHERE id = $1", ignored["id"]) == "escalated":
            break
        await asyncio.sleep(0.1)
    assert await db.fetchval("SELECT status FROM disputes WHERE id = $1", ignored["id"]) == "escalated"
    assert await db.fetchval("SELECT status FROM disputes WHERE id = $1", answered["id"]) == "answered"
    r = await buyer.post(f"/disputes/{answered['id']}/escalate", json={"reason": "not satisfied"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"


async def test_a_buyer_cannot_read_another_buyers_dispute_nor_a_shop_another_shops(
    client: AsyncTestClient[Litestar],
    shop: dict[str, Any],
    support: Actor,
) -> None:
    buyer, beta = shop["buyer"], shop["beta"]
    dispute = await open_dispute(buyer, (await late_parcel(shop))["id"])
    stranger = await sign_up(client, "stranger@example.com")
    for path in (f"/disputes/{dispute['id']}",):
        r = await stranger.get(path)
        assert r.status_code == 404 and "never came" not in r.text
    assert (await stranger.post(f"/disputes/{dispute['id']}/messages", json={"body": "hi"})).status_code == 404
    assert (await stranger.post(f"/disputes/{dispute['id']}/withdraw")).status_code == 404
    assert (await stranger.get("/disputes")).json()["items"] == []
    assert (await beta.get(f"/vendor/disputes/{dispute['id']}")).status_code == 404
    assert (await beta.get("/vendor/disputes")).json()["items"] == []
    assert (await shop["alpha"].get(f"/vendor/disputes/{dispute['id']}")).status_code == 200
    assert (await buyer.get("/disputes")).json()["items"][0]["id"] == dispute["id"]
    assert (await support.get(f"/support/disputes/{dispute['id']}")).status_code == 200
    assert (await buyer.get(f"/support/disputes/{dispute['id']}")).status_code == 403


async def test_support_refunds_part_of_a_dispute_capped_at_what_is_left_with_the_ledger_balanced(
    shop: dict[str, Any],
    support: Actor,
    admin: Actor,
    db: asyncpg.Connection,
) -> None:
    buyer, alpha = shop["buyer"], shop["alpha"]
    order = await late_parcel(shop)
    dispute = await open_dispute(buyer, order["id"])
    url = f"/support/disputes/{dispute['id']}/decide"
    too_much = await support.post(url, json={"outcome": "refunded", "amount": order["total"] + 1, "reason": "cap"})
    assert too_much.status_code == 409
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 0
    assert (await support.post(url, json={"outcome": "refunded", "amount": 500})).status_code == 400  # no reason
    r = await support.post(url, json={"outcome": "refunded", "amount": 1500, "reason": "half the kettles lost"})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert (decided["status"], decided["outcome"], decided["refunded_amount"]) == ("resolved", "refunded", 1500)
    assert decided["messages"][-1]["body"].startswith("Decision: refunded 15.00 EUR.")
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 1500
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "shipped"  # partial
    await trial(admin)
    again = await support.post(url, json={"outcome": "rejected", "reason": "changed my mind"})
    assert again.status_code == 409
    for topic in (topics.user_orders(buyer.id), topics.vendor_aftersales(alpha.vendor_id)):
        assert (await events_of(db, topic))[-1] == "dispute.resolved"
    audit = await db.fetchrow("SELECT actor_id, after FROM audit_log WHERE action = 'dispute.decided'")
    assert audit["actor_id"] == support.id and audit["after"]["refunded"] == 1500
    # A full refund of a late parcel treats it as lost: the rest goes back and the order is cancelled.
    second = await open_dispute(buyer, order["id"])
    r = await support.post(f"/support/disputes/{second['id']}/decide", json={"outcome": "refunded", "reason": "lost"})
    assert r.status_code == 200, r.text
    assert r.json()["refunded_amount"] == order["total"] - 1500
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "cancelled"
    assert (await trial(admin))[f"vendor:{alpha.vendor_id}"] == 0


async def test_two_decisions_at_once_settle_a_dispute_once(
    shop: dict[str, Any],
    support: Actor,
    admin: Actor,
    db: asyncpg.Connection,
) -> None:
    order = await late_parcel(shop)
    dispute = await open_dispute(shop["buyer"], order["id"])
    url = f"/support/disputes/{dispute['id']}/decide"
    body = {"outcome": "refunded", "amount": 1000, "reason": "agreed with both"}
    replies = await asyncio.gather(*(support.post(url, json=body) for _ in range(2)))
    assert sorted(r.status_code for r in replies) == [200, 409]
    assert await db.fetchval("SELECT refunded_amount FROM payments") == 1000
    await trial(admin)


async def test_two_disputes_of_one_kind_on_one_order_cannot_both_open(shop: dict[str, Any]) -> None:
    order = await late_parcel(shop)
    body = {"kind": "not_received", "order_id": order["id"], "reason": "nothing came"}
    replies = await asyncio.gather(*(shop["buyer"].post("/disputes", json=body) for _ in range(2)))
    assert sorted(r.status_code for r in replies) == [201, 409]


async def test_a_complaint_names_a_shop_the_buyer_bought_from_and_support_upholds_it(
    client: AsyncTestClient[Litestar],
    shop: dict[str, Any],
    support: Actor,
    db: asyncpg.Connection,
) -> None:
    buyer, alpha = shop["buyer"], shop["alpha"]
    complaint = {"kind": "complaint", "vendor_id": alpha.vendor_id, "reason": "rude answers"}
    assert (await buyer.post("/disputes", json=complaint)).status_code == 404  # no order from it yet
    await shop["checkout"](pay=True)
    assert (await buyer.post("/disputes", json=complaint | {"kind": "not_received"})).status_code == 422
    r = await buyer.post("/disputes", json=complaint)
    assert r.status_code == 201, r.text
    url = f"/support/disputes/{r.json()['id']}/decide"
    assert (await support.post(url, json={"outcome": "refunded", "reason": "no order"})).status_code == 409
    r = await support.post(url, json={"outcome": "upheld", "reason": "the shop was warned"})
    assert r.status_code == 200 and r.json()["outcome"] == "upheld"
    row = await db.fetchrow("SELECT kind, status, outcome, resolved_at FROM disputes")
    assert (row["kind"], row["status"], row["outcome"]) == ("complaint", "resolved", "upheld")
    assert row["resolved_at"] <= datetime.now(UTC)


async def test_the_queue_puts_escalated_disputes_first(
    shop: dict[str, Any], support: Actor, db: asyncpg.Connection
) -> None:
    first = await open_dispute(shop["buyer"], (await late_parcel(shop))["id"])
    second = await open_dispute(shop["buyer"], (await late_parcel(shop))["id"])
    await db.execute("UPDATE disputes SET status = 'escalated', escalated_at = now() WHERE id = $1", second["id"])
    queue = (await support.get("/support/disputes/queue")).json()
    assert [d["id"] for d in queue["items"]] == [second["id"], first["id"]]
    assert queue["total"] == 2 and queue["pages"] == 1
    assert (await support.get("/support/disputes/queue", params={"status": "resolved"})).status_code == 422


async def test_the_status_column_lists_exactly_the_machines_states(db: asyncpg.Connection) -> None:
    """As tests/test_state_machines.py holds every other status column to its enum: the CHECK lists exactly
    DisputeStatus, the default is its first member, and the machine moves between its members only."""
    import re

    from marketplace.disputes import TRANSITIONS, DisputeStatus

    check = await db.fetchval(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid"
        " AND a.attnum = ANY (c.conkey) WHERE c.conrelid = 'disputes'::regclass AND c.contype = 'c'"
        " AND a.attname = 'status'"
    )
    default = await db.fetchval(
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a"
        " ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
        " WHERE d.adrelid = 'disputes'::regclass AND a.attname = 'status'"
    )
    literals = re.compile(r"'([^']*)'::text")
    assert set(literals.findall(check)) == {s.value for s in DisputeStatus}
    assert literals.findall(default) == [next(iter(DisputeStatus)).value]
    assert {state for move in TRANSITIONS.transitions for state in move} == set(DisputeStatus)
