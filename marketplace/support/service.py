"""Support desk rules: the search, the views of an order, a checkout, a buyer and a shop (staff see any, so no
owner filter, and nothing here is shown to buyers or shops), internal notes, and extending an order's
after-sales window. Every write is audit-logged with its reason in its own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from marketplace.accounts import service as accounts
from marketplace.aftersales import service as aftersales
from marketplace.audit import service as audit
from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound
from marketplace.core.states import Actor
from marketplace.disputes import service as disputes
from marketplace.orders import OrderStatus, actions, read
from marketplace.orders.actions import ORDER_MOVES
from marketplace.support import queries as q
from marketplace.support.schemas import (
    BuyerView,
    CheckoutView,
    EventRow,
    Hit,
    HitKind,
    OrderView,
    PaymentRow,
    RefundRow,
    SearchResults,
    ShopView,
    SupportNoteOut,
    WindowOut,
)
from marketplace.vendors import service as vendors

STAFF = aftersales.Party(0, Actor.ADMIN)  # reads every after-sales request
SUPPORT = disputes.Party(0, Actor.ADMIN)  # reads every dispute
AUDITED = 50  # support's audit entries shown with an order


def _like(text: str) -> str:
    """A LIKE pattern finding `text` anywhere, its own wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(db: asyncpg.Pool, text: str, page: int, size: int) -> SearchResults:
    """Orders, checkouts, payments, buyers and shops matching `text`: an id ("#42" too) of any of them, an
    email (the account and its orders), a tracking number, a payment reference, part of a shop's name or
    contact email, or of a buyer's email or name."""
    text = text.strip()
    if not text:
        return SearchResults(text, [], 0, page, 1)
    digits = text.removeprefix("#")
    number = int(digits) if digits.isascii() and digits.isdigit() and 0 < int(digits) < 2**63 else None
    rows = await db.fetch(q.SEARCH, text, number, _like(text), size, (page - 1) * size)
    total = rows[0]["total"] if rows else 0
    hits = [Hit(HitKind(r["kind"]), r["id"], r["label"], r["detail"] or "", r["status"], r["created_at"]) for r in rows]
    return SearchResults(text, hits, total, page, max(1, -(-total // size)))


def window_of(row: asyncpg.Record, window_days: int) -> WindowOut:
    delivered = row["delivered_at"]
    closes = delivered + timedelta(days=window_days) if delivered else None
    if closes and row["window_until"]:
        closes = max(closes, row["window_until"])
    return WindowOut(row["id"], delivered, closes, row["window_until"] is not None)


def actions_for(status: OrderStatus) -> list[str]:
    """What support may do to an order in `status` (the order table decides moves; the window needs delivery)."""
    found = []
    if status != OrderStatus.SHIPPED and ORDER_MOVES.allows(status, OrderStatus.CANCELLED, Actor.ADMIN):
        found.append("cancel")
    if status == OrderStatus.SHIPPED:
        found.append("lost")
    if status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED):
        found.append("extend_window")
    return found


async def order_view(db: asyncpg.Pool, order_id: int, window_days: int, transit_days: int) -> OrderView:
    detail = await read.order_for(db, order_id)  # no owner: staff read any order (404 if there is none)
    order = detail.order
    payments = [PaymentRow(**dict(r)) for r in await db.fetch(q.PAYMENTS_OF_CHECKOUT, order.checkout_id)]
    refunds = [RefundRow(**dict(r)) for r in await db.fetch(q.REFUNDS_OF_ORDER, order_id)]
    events = [
        EventRow(**dict(r))
        for r in await db.fetch(q.EVENTS_OF_ORDER, topics.user_orders(order.buyer_id), str(order_id))
    ]
    requests = [await aftersales.get(db, STAFF, r["id"]) for r in await db.fetch(q.AFTERSALES_OF_ORDER, order_id)]
    notes = [SupportNoteOut(**dict(r)) for r in await db.fetch(q.NOTES_OF_ORDER, order_id)]
    logged = await audit.entries(db, object_type="order", object_id=str(order_id), limit=AUDITED)
    async with db.acquire() as conn, conn.transaction():
        window = window_of(await conn.fetchrow(q.ORDER_WINDOW, order_id), window_days)
    shipped_at = await db.fetchval(q.SHIPPED_AT, order_id)
    expected = disputes.expected_by(
        {"estimated_arrival": order.estimated_arrival, "shipped_at": shipped_at},
        transit_days,  # type: ignore[arg-type]
    )
    return OrderView(
        order=order,
        history=detail.history,
        checkout_status=await db.fetchval(q.CHECKOUT_OF_ORDER, order_id),
        buyer=await accounts.get_user(db, order.buyer_id),
        shop=await vendors.get_vendor(db, order.vendor_id),
        payments=payments,
        refunds=refunds,
        refunded_total=sum(r.amount for r in refunds),
        events=events,
        aftersales=requests,
        disputes=await disputes.of_order(db, order_id),
        notes=notes,
        audit=logged.items,
        window=window,
        expected_by=expected if order.status == OrderStatus.SHIPPED else None,
        actions=actions_for(OrderStatus(order.status)),
    )


async def checkout_view(db: asyncpg.Pool, checkout_id: int) -> CheckoutView:
    buyer_id = await db.fetchval(q.BUYER_OF_CHECKOUT, checkout_id)
    if buyer_id is None:
        raise NotFound("no such checkout")
    payments = [PaymentRow(**dict(r)) for r in await db.fetch(q.PAYMENTS_OF_CHECKOUT, checkout_id)]
    return CheckoutView(await read.checkout_out(db, checkout_id), buyer_id, payments)


async def buyer_view(db: asyncpg.Pool, user_id: int, cursor: int | None, limit: int) -> BuyerView:
    buyer = await accounts.get_user(db, user_id)
    orders = await read.buyer_orders(db, user_id, None, cursor, limit)
    mine = await disputes.listing(db, disputes.Party(user_id, Actor.BUYER), None, None, 20)
    return BuyerView(buyer, orders.items, orders.next_cursor, mine.items)


async def shop_view(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> ShopView:
    shop = await vendors.get_vendor(db, vendor_id)
    orders = await read.vendor_orders(db, vendor_id, None, None, None, cursor, limit)
    theirs = await disputes.listing(db, disputes.Party(0, Actor.VENDOR, vendor_id), None, None, 20)
    return ShopView(shop, orders.items, orders.next_cursor, theirs.items)


async def write_note(conn: asyncpg.Connection, support_id: int, order_id: int, body: str) -> SupportNoteOut:
    """An internal note on an order, in the caller's transaction (the workflows note what they did with it)."""
    return SupportNoteOut(**dict(await conn.fetchrow(q.INSERT_NOTE, order_id, support_id, body)))


async def add_note(db: asyncpg.Pool, support_id: int, order_id: int, body: str) -> SupportNoteOut:
    async with db.acquire() as conn, conn.transaction():
        if await actions.lock_order(conn, order_id) is None:
            raise NotFound("no such order")
        note = await write_note(conn, support_id, order_id, body)
        await record_audit(
            conn, support_id, "support.note_added", "order", order_id, None, {"note_id": note.id, "reason": body}
        )
        return note


async def extend_window(
    db: asyncpg.Pool, support_id: int, order_id: int, days: int, reason: str, window_days: int
) -> WindowOut:
    """Lengthen a delivered order's after-sales window by `days` (from now, if it has closed)."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.ORDER_WINDOW, order_id)
        if row is None:
            raise NotFound("no such order")
        before = window_of(row, window_days)
        if before.closes_at is None:
            raise Conflict(
                "the after-sales window opens on delivery; this order was not delivered", order_status=row["status"]
            )
        until = max(before.closes_at, datetime.now(UTC)) + timedelta(days=days)
        await conn.execute(q.UPSERT_EXTENSION, order_id, until, support_id, reason)
        after = window_of(await conn.fetchrow(q.ORDER_WINDOW, order_id), window_days)
        after_audit = {"closes_at": until.isoformat(), "days": days, "reason": reason}
        before_audit = {"closes_at": before.closes_at.isoformat()}
        await record_audit(
            conn, support_id, "support.aftersales_window_extended", "order", order_id, before_audit, after_audit
        )
        return after


async def payments_of(conn: asyncpg.Connection | asyncpg.Pool, checkout_id: int) -> list[PaymentRow]:
    return [PaymentRow(**dict(r)) for r in await conn.fetch(q.PAYMENTS_OF_CHECKOUT, checkout_id)]
