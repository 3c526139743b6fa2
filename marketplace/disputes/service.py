"""Dispute rules: who may open which kind when (not received only after the expected delivery date, not as
described within the after-sales window), who sees which dispute (its buyer, its shop, support), the thread,
the shop's answer window and the escalation once it passes, and the one write of a dispute's status (asked of
TRANSITIONS first). Every change is an event on the buyer's and the shop's topics, in the same transaction.
What a decision does to money and orders is workflows/support.py's; `settle` records it here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import msgspec

from marketplace.core import topics
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_events
from marketplace.core.money import format_money
from marketplace.core.paging import Page, fetch_page
from marketplace.core.states import Actor
from marketplace.disputes import LIVE, TRANSITIONS, DisputeKind, DisputeOutcome, DisputeStatus
from marketplace.disputes import queries as q
from marketplace.disputes.schemas import DisputeIn, DisputeMessageOut, DisputeOut

D = DisputeStatus
# How a party signs the thread.
AUTHOR_ROLE = {Actor.BUYER: "buyer", Actor.VENDOR: "vendor", Actor.ADMIN: "support"}


@dataclass(frozen=True)
class Party:
    """Who acts on a dispute: its buyer, the shop it is against, or support (any dispute)."""

    user_id: int
    role: Actor  # buyer | vendor | admin (support staff)
    vendor_id: int | None = None


@dataclass(frozen=True)
class Rules:
    """The settings opening and answering a dispute follow."""

    answer_hours: int  # the shop's answer window
    transit_days: int  # without an estimated arrival, a parcel counts as late this long after shipping
    window_days: int  # the after-sales window after delivery


class DisputeQueue(msgspec.Struct):
    items: list[DisputeOut]
    total: int
    page: int
    pages: int


def _visible(row: asyncpg.Record, party: Party) -> bool:
    if party.role == Actor.ADMIN:
        return True
    if party.role == Actor.BUYER:
        return row["buyer_id"] == party.user_id
    return party.vendor_id is not None and row["vendor_id"] == party.vendor_id


async def _out_many(conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]) -> list[DisputeOut]:
    messages: dict[int, list[DisputeMessageOut]] = defaultdict(list)
    for m in await conn.fetch(q.MESSAGES_OF, [r["id"] for r in rows]):
        messages[m["dispute_id"]].append(
            DisputeMessageOut(m["id"], m["author_id"], m["author_role"], m["body"], m["created_at"])
        )
    fields = [f for f in DisputeOut.__struct_fields__ if f != "messages"]
    return [DisputeOut(**{f: r[f] for f in fields}, messages=messages[r["id"]]) for r in rows]


async def _out(conn: asyncpg.Connection | asyncpg.Pool, dispute_id: int) -> DisputeOut:
    return (await _out_many(conn, [await conn.fetchrow(q.GET_DISPUTE, dispute_id)]))[0]


def _events(row: asyncpg.Record, type_: str, **extra: Any) -> list[tuple[str, str, dict[str, Any]]]:
    payload = {"dispute_id": row["id"], "order_id": row["order_id"], "kind": row["kind"]} | extra
    return [
        (topics.user_orders(row["buyer_id"]), type_, payload),
        (topics.vendor_aftersales(row["vendor_id"]), type_, payload),
    ]


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def expected_by(order: asyncpg.Record, transit_days: int) -> datetime | None:
    """When a shipped order should have arrived: the end of its estimated arrival day, else its shipping time
    plus `transit_days`; None if it was never shipped."""
    if order["estimated_arrival"] is not None:
        return _end_of(order["estimated_arrival"])
    if order["shipped_at"] is None:
        return None
    return order["shipped_at"] + timedelta(days=transit_days)


def window_closes(order: asyncpg.Record, window_days: int) -> datetime | None:
    """When the after-sales window of a delivered order closes (support may have extended it)."""
    if order["delivered_at"] is None:
        return None
    closes = order["delivered_at"] + timedelta(days=window_days)
    return max(closes, order["window_until"]) if order["window_until"] else closes


async def _check_may_open(
    conn: asyncpg.Connection, buyer_id: int, body: DisputeIn, rules: Rules
) -> tuple[int, int | None]:
    """The shop and order a new dispute is about, once the rules for its kind allow it."""
    if body.order_id is None:
        if body.kind != DisputeKind.COMPLAINT:
            raise Unprocessable(f"a {body.kind.replace('_', ' ')} dispute names the order (order_id)")
        if body.vendor_id is None:
            raise Unprocessable("a complaint names the order (order_id) or the shop (vendor_id)")
        if not await conn.fetchval(q.HAS_ORDERED_FROM, buyer_id, body.vendor_id):
            raise NotFound("you have no order from that shop")
        return body.vendor_id, None
    order = await conn.fetchrow(q.ORDER_FOR_DISPUTE, body.order_id)
    if order is None or order["buyer_id"] != buyer_id:
        raise NotFound("no such order")
    if body.vendor_id is not None and body.vendor_id != order["vendor_id"]:
        raise Unprocessable("that order is not from that shop; name one or the other")
    now = datetime.now(UTC)
    if body.kind == DisputeKind.NOT_RECEIVED:
        if order["status"] not in ("shipped", "delivered"):
            raise Conflict(f"a {order['status']} order cannot be reported not received", order_status=order["status"])
        due = expected_by(order, rules.transit_days)
        if due is None or now < due:
            when = due.strftime("%-d %b %Y, %H:%M UTC") if due else "its shipping"
            raise Conflict(f"the parcel is expected by {when}; report it not received after that")
    elif body.kind == DisputeKind.NOT_AS_DESCRIBED:
        if order["status"] not in ("delivered", "completed"):
            raise Conflict("a not-as-described dispute opens once the order is delivered", order_status=order["status"])
        closes = window_closes(order, rules.window_days)
        if closes is None or now > closes:
            raise Conflict(f"the {rules.window_days}-day window after delivery has closed")
    return order["vendor_id"], order["id"]


async def open_dispute(db: asyncpg.Pool, buyer_id: int, body: DisputeIn, rules: Rules) -> DisputeOut:
    async with db.acquire() as conn, conn.transaction():
        vendor_id, order_id = await _check_may_open(conn, buyer_id, body, rules)
        try:
            async with conn.transaction():  # a savepoint: the unique index settles two opened at once
                dispute_id = await conn.fetchval(
                    q.INSERT_DISPUTE, order_id, vendor_id, buyer_id, body.kind, body.reason, rules.answer_hours
                )
        except asyncpg.UniqueViolationError:
            what = "this order" if order_id else "this shop"
            raise Conflict(f"a {body.kind.replace('_', ' ')} dispute about {what} is already open") from None
        if body.message:
            await conn.execute(q.INSERT_MESSAGE, dispute_id, buyer_id, "buyer", body.message)
        row = await conn.fetchrow(q.GET_DISPUTE, dispute_id)
        await append_events(
            conn, _events(row, "dispute.opened", status=D.OPEN, answer_due=row["answer_due"].isoformat())
        )
        return await _out(conn, dispute_id)


async def get(db: asyncpg.Pool, party: Party, dispute_id: int) -> DisputeOut:
    row = await db.fetchrow(q.GET_DISPUTE, dispute_id)
    if row is None or not _visible(row, party):
        raise NotFound("no such dispute")
    return await _out(db, dispute_id)


async def listing(
    db: asyncpg.Pool,
    party: Party,
    status: DisputeStatus | None,
    cursor: int | None,
    limit: int,
    order_id: int | None = None,
) -> Page[DisputeOut]:
    """The party's disputes (support: everyone's), newest first."""
    buyer = party.user_id if party.role == Actor.BUYER else None
    vendor = (party.vendor_id or 0) if party.role == Actor.VENDOR else None
    rows = await fetch_page(db, q.LIST_DISPUTES, buyer, vendor, status, order_id, cursor, limit=limit)
    return Page(await _out_many(db, rows.items), rows.next_cursor)


async def of_order(db: asyncpg.Pool | asyncpg.Connection, order_id: int) -> list[DisputeOut]:
    """Every dispute on an order, oldest first (for support's view of the order)."""
    return await _out_many(db, await db.fetch(q.DISPUTES_OF_ORDER, order_id))


async def queue(db: asyncpg.Pool, status: DisputeStatus | None, page: int, size: int) -> DisputeQueue:
    """Support's queue of live disputes: escalated first, oldest escalation first, then by the shop's deadline."""
    if status is not None and status not in LIVE:
        raise Unprocessable("the queue holds open, answered and escalated disputes", statuses=list(LIVE))
    rows = await db.fetch(q.QUEUE, status, size, (page - 1) * size)
    total = rows[0]["total"] if rows else 0
    return DisputeQueue(await _out_many(db, rows), total, page, max(1, -(-total // size)))


async def _locked(conn: asyncpg.Connection, party: Party, dispute_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(q.DISPUTE_FOR_UPDATE, dispute_id)
    if row is None or not _visible(row, party):
        raise NotFound("no such dispute")
    return row


async def _move(conn: asyncpg.Connection, row: asyncpg.Record, target: DisputeStatus, actor: Actor) -> None:
    """The one write of a dispute's status (short of `settle`), checked against TRANSITIONS."""
    TRANSITIONS.check(D(row["status"]), target, actor)
    await conn.execute(q.SET_STATUS, row["id"], target)


async def post_message(db: asyncpg.Pool, party: Party, dispute_id: int, body: str) -> DisputeOut:
    """Write in the thread. The shop's first answer to an open dispute stops its answer clock."""
    async with db.acquire() as conn, conn.transaction():
        row = await _locked(conn, party, dispute_id)
        status = D(row["status"])
        if status not in LIVE:
            raise Conflict(f"this dispute is {status}; its thread is closed", dispute_status=status)
        if party.role == Actor.VENDOR and status == D.OPEN:
            await _move(conn, row, D.ANSWERED, Actor.VENDOR)
            status = D.ANSWERED
        await conn.execute(q.INSERT_MESSAGE, dispute_id, party.user_id, AUTHOR_ROLE[party.role], body)
        await append_events(conn, _events(row, "dispute.message", status=status, message_from=AUTHOR_ROLE[party.role]))
        return await _out(conn, dispute_id)


async def escalate(db: asyncpg.Pool, party: Party, dispute_id: int, reason: str) -> DisputeOut:
    """The buyer is not satisfied with the shop's answer: support takes the dispute up."""
    async with db.acquire() as conn, conn.transaction():
        row = await _locked(conn, party, dispute_id)
        await _move(conn, row, D.ESCALATED, party.role)
        await conn.execute(q.INSERT_MESSAGE, dispute_id, party.user_id, AUTHOR_ROLE[party.role], f"Escalated: {reason}")
        await append_events(conn, _events(row, "dispute.escalated", status=D.ESCALATED, by="buyer"))
        return await _out(conn, dispute_id)


async def withdraw(db: asyncpg.Pool, party: Party, dispute_id: int) -> DisputeOut:
    async with db.acquire() as conn, conn.transaction():
        row = await _locked(conn, party, dispute_id)
        await _move(conn, row, D.WITHDRAWN, party.role)
        await append_events(conn, _events(row, "dispute.withdrawn", status=D.WITHDRAWN))
        return await _out(conn, dispute_id)


async def escalate_overdue(db: asyncpg.Pool, batch: int = 100) -> int:
    """Escalate to support up to `batch` open disputes whose shop let its answer window pass; returns how many.
    Runs in every worker's sweeper: SKIP LOCKED shares the work, and a shop answering at the same moment either
    commits first (the dispute is no longer open when locked here) or waits and finds it escalated."""
    async with db.acquire() as conn, conn.transaction():
        rows = await conn.fetch(q.OVERDUE, batch)
        events = []
        for row in rows:
            await _move(conn, row, D.ESCALATED, Actor.SYSTEM)
            note = "The shop did not answer in time: the dispute goes to customer service, who will decide."
            await conn.execute(q.INSERT_MESSAGE, row["id"], None, "system", note)
            events += _events(row, "dispute.escalated", status=D.ESCALATED, by="deadline")
        await append_events(conn, events)
    return len(rows)


# Support's decision (workflows/support.py moves the money and the order in the same transaction).


async def lock_for_decision(conn: asyncpg.Connection, dispute_id: int) -> asyncpg.Record:
    """The dispute, locked, once support may still decide it (a 404 or a 409 otherwise)."""
    row = await conn.fetchrow(q.DISPUTE_FOR_UPDATE, dispute_id)
    if row is None:
        raise NotFound("no such dispute")
    TRANSITIONS.check(D(row["status"]), D.RESOLVED, Actor.ADMIN)
    return row


def check_outcome(row: asyncpg.Record, outcome: DisputeOutcome) -> None:
    """Which outcomes fit which dispute: money and reshipping need an order; upholding is for complaints."""
    if row["order_id"] is None and outcome in (DisputeOutcome.REFUNDED, DisputeOutcome.RESHIPPED):
        raise Conflict("this complaint names no order: uphold or reject it")
    if outcome == DisputeOutcome.UPHELD and row["kind"] != DisputeKind.COMPLAINT:
        raise Unprocessable("only a complaint is upheld; refund, reship or reject this dispute")


async def settle(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    support_id: int,
    outcome: DisputeOutcome,
    reason: str,
    refunded: int = 0,
    currency: str | None = None,
) -> DisputeOut:
    """Record support's decision on a dispute locked by `lock_for_decision`, in the caller's transaction."""
    await conn.execute(q.SETTLE, row["id"], support_id, outcome, refunded, reason)
    words = {DisputeOutcome.REFUNDED: f"refunded {format_money(refunded, currency or 'EUR')}",
             DisputeOutcome.RESHIPPED: "the shop sends the order again", DisputeOutcome.REJECTED: "rejected",
             DisputeOutcome.UPHELD: "upheld"}  # fmt: skip
    await conn.execute(q.INSERT_MESSAGE, row["id"], support_id, "support", f"Decision: {words[outcome]}. {reason}")
    await append_events(conn, _events(row, "dispute.resolved", status=D.RESOLVED, outcome=outcome, refunded=refunded))
    return await _out(conn, row["id"])
