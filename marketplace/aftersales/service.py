"""After-sales rules: who may do what in which state, the return window, claimable quantities, refunds
through the payment (partial allowed, never more than the request covers) and restocking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from marketplace.aftersales import Kind, Status
from marketplace.aftersales import queries as q
from marketplace.aftersales.schemas import LineOut, MessageOut, RequestIn, RequestOut
from marketplace.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from marketplace.core.events import append_events
from marketplace.inventory.service import move_on_hand
from marketplace.orders.place_checkout import buyer_orders_topic
from marketplace.payments.service import refund


@dataclass(frozen=True)
class Party:
    """Who acts on a request: its buyer, the order's vendor, or an admin."""

    user_id: int
    role: str  # buyer | vendor | admin
    vendor_id: int | None = None


# action → (states it may start from, state it leads to, roles allowed, kinds it applies to)
ACTIONS: dict[str, tuple[set[Status], Status, set[str], set[Kind]]] = {
    "approve": ({Status.REQUESTED}, Status.APPROVED, {"vendor", "admin"}, set(Kind)),
    "reject": ({Status.REQUESTED}, Status.REJECTED, {"vendor", "admin"}, set(Kind)),
    "withdraw": ({Status.REQUESTED, Status.APPROVED}, Status.WITHDRAWN, {"buyer"}, set(Kind)),
    "return_shipped": ({Status.APPROVED}, Status.RETURN_SHIPPED, {"buyer"}, {Kind.RETURN, Kind.EXCHANGE}),
    "received": ({Status.RETURN_SHIPPED}, Status.RETURN_RECEIVED, {"vendor", "admin"}, {Kind.RETURN, Kind.EXCHANGE}),
    "refund": ({Status.APPROVED, Status.RETURN_RECEIVED}, Status.REFUNDED, {"vendor", "admin"},
               {Kind.RETURN, Kind.REFUND_ONLY}),
    "ship_replacement": ({Status.RETURN_RECEIVED}, Status.REPLACEMENT_SHIPPED, {"vendor", "admin"}, {Kind.EXCHANGE}),
}  # fmt: skip


def _visible(row: asyncpg.Record, party: Party) -> bool:
    if party.role == "admin":
        return True
    if party.role == "buyer":
        return row["buyer_id"] == party.user_id
    return row["vendor_id"] == party.vendor_id


async def _out(conn: asyncpg.Connection | asyncpg.Pool, request_id: int) -> RequestOut:
    row = await conn.fetchrow(q.GET_REQUEST, request_id)
    lines = [LineOut(**dict(r)) for r in await conn.fetch(q.REQUEST_LINES, request_id)]
    messages = [MessageOut(**dict(r)) for r in await conn.fetch(q.REQUEST_MESSAGES, request_id)]
    return RequestOut(**dict(row), lines=lines, messages=messages)


def _events(row: asyncpg.Record, status: Status, extra: dict[str, object] | None = None) -> list:
    payload = {"request_id": row["id"], "order_id": row["order_id"], "status": status, **(extra or {})}
    return [
        (f"vendor:{row['vendor_id']}:aftersales", f"aftersales.{status}", payload),
        (buyer_orders_topic(row["buyer_id"]), f"aftersales.{status}", payload),
    ]


async def open_request(db: asyncpg.Pool, buyer_id: int, order_id: int, body: RequestIn, window_days: int) -> RequestOut:
    async with db.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(q.ORDER_FOR_REQUEST, order_id)
        if order is None or order["buyer_id"] != buyer_id:
            raise NotFound("no such order")
        if order["status"] not in ("delivered", "completed") or order["delivered_at"] is None:
            raise Conflict("after-sales requests open once the order has been delivered")
        if datetime.now(UTC) - order["delivered_at"] > timedelta(days=window_days):
            raise Conflict(f"the {window_days}-day window after delivery has closed")
        claimable = {r["id"]: r for r in await conn.fetch(q.CLAIMABLE_LINES, order_id)}
        wanted: dict[int, int] = {}
        for line in body.lines:
            wanted[line.order_line_id] = wanted.get(line.order_line_id, 0) + line.quantity
        for line_id, quantity in wanted.items():
            if line_id not in claimable:
                raise Unprocessable("that line is not part of this order", order_line_id=line_id)
            if quantity > claimable[line_id]["claimable"]:
                raise Conflict(
                    f"only {claimable[line_id]['claimable']} of that line can still be claimed", order_line_id=line_id
                )
        cap = 0 if body.kind == Kind.EXCHANGE else sum(claimable[i]["unit_price"] * n for i, n in wanted.items())
        request_id = await conn.fetchval(
            q.INSERT_REQUEST, order_id, buyer_id, order["vendor_id"], body.kind, body.reason, cap
        )
        await conn.execute(q.INSERT_LINES, request_id, list(wanted), list(wanted.values()))
        if body.message:
            await conn.execute(q.INSERT_MESSAGE, request_id, buyer_id, "buyer", body.message)
        row = await conn.fetchrow(q.GET_REQUEST, request_id)
        await append_events(conn, _events(row, Status.REQUESTED, {"kind": body.kind}))
        return await _out(conn, request_id)


async def get(db: asyncpg.Pool, party: Party, request_id: int) -> RequestOut:
    row = await db.fetchrow(q.GET_REQUEST, request_id)
    if row is None or not _visible(row, party):
        raise NotFound("no such after-sales request")
    return await _out(db, request_id)


async def listing(
    db: asyncpg.Pool, party: Party, status: Status | None, cursor: int | None, limit: int
) -> list[RequestOut]:
    buyer = party.user_id if party.role == "buyer" else None
    vendor = party.vendor_id if party.role == "vendor" else None
    rows = await db.fetch(q.LIST_REQUESTS, buyer, vendor, status, cursor, limit + 1)
    return [await _out(db, r["id"]) for r in rows]


async def post_message(db: asyncpg.Pool, party: Party, request_id: int, body: str) -> RequestOut:
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.REQUEST_FOR_UPDATE, request_id)
        if row is None or not _visible(row, party):
            raise NotFound("no such after-sales request")
        await conn.execute(q.INSERT_MESSAGE, request_id, party.user_id, party.role, body)
        await append_events(conn, _events(row, Status(row["status"]), {"message_from": party.role}))
        return await _out(conn, request_id)


async def act(
    db: asyncpg.Pool,
    party: Party,
    request_id: int,
    action: str,
    *,
    note: str | None = None,
    carrier: str | None = None,
    tracking: str | None = None,
    restock: bool = False,
    amount: int | None = None,
) -> RequestOut:
    starts, target, roles, kinds = ACTIONS[action]
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.REQUEST_FOR_UPDATE, request_id)
        if row is None or not _visible(row, party):
            raise NotFound("no such after-sales request")
        if party.role not in roles:
            raise Forbidden(f"a {party.role} cannot {action.replace('_', ' ')} a request")
        if Kind(row["kind"]) not in kinds or Status(row["status"]) not in starts:
            raise Conflict(
                f"a {row['status']} {row['kind']} request cannot be moved by '{action}'", request_status=row["status"]
            )
        refunded = 0
        if action == "refund":
            left = row["refund_cap"] - row["refunded_amount"]
            refunded = left if amount is None else amount
            if refunded <= 0 or refunded > left:
                raise Unprocessable(f"refund between 1 and {left}")
            checkout_id = await conn.fetchval(q.ORDER_CHECKOUT, row["order_id"])
            await refund(conn, checkout_id, row["order_id"], refunded)
        if action == "received" and restock:
            await _move_stock(conn, row, party.user_id, +1, "return received")
        if action == "ship_replacement":
            await _move_stock(conn, row, party.user_id, -1, "exchange replacement")
        replacement = tracking if action == "ship_replacement" else None
        return_tracking = tracking if action == "return_shipped" else None
        await conn.execute(
            q.UPDATE_REQUEST, request_id, target, note, carrier if return_tracking else None, return_tracking,
            replacement, action == "received" and restock, refunded,
        )  # fmt: skip
        extra = {"refunded": refunded} if refunded else {}
        await append_events(conn, _events(row, target, extra))
        return await _out(conn, request_id)


async def _move_stock(conn: asyncpg.Connection, row: asyncpg.Record, actor_id: int, sign: int, reason: str) -> None:
    for line in await conn.fetch(q.REQUEST_LINES, row["id"]):
        if not await move_on_hand(conn, line["sku_id"], sign * line["quantity"], reason, actor_id, row["order_id"]):
            raise Conflict(f"not enough {line['title']} in stock for the replacement")
