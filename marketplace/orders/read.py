"""Reading checkouts and orders, always scoped to who may see them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg
from msgspec import Struct

from marketplace.core.errors import NotFound
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.schemas import CheckoutOut, OrderLineOut, OrderOut


class HistoryEntry(Struct):
    from_status: str | None
    to_status: str
    actor_id: int | None
    note: str | None
    at: datetime


async def orders_out(conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]) -> list[OrderOut]:
    lines: dict[int, list[OrderLineOut]] = defaultdict(list)
    for line in await conn.fetch(q.LINES_OF_ORDERS, [r["id"] for r in rows]):
        lines[line["order_id"]].append(OrderLineOut(**{k: line[k] for k in OrderLineOut.__struct_fields__}))
    return [OrderOut(**dict(r), lines=lines[r["id"]]) for r in rows]


async def checkout_out(conn: asyncpg.Connection | asyncpg.Pool, checkout_id: int) -> CheckoutOut:
    row = await conn.fetchrow(q.GET_CHECKOUT, checkout_id)
    orders = await orders_out(conn, await conn.fetch(q.ORDERS_OF_CHECKOUT, checkout_id))
    return CheckoutOut(**{k: row[k] for k in CheckoutOut.__struct_fields__ if k != "orders"}, orders=orders)


async def buyer_checkout(db: asyncpg.Pool, buyer_id: int, checkout_id: int) -> CheckoutOut:
    row = await db.fetchrow(q.GET_CHECKOUT, checkout_id)
    if row is None or row["buyer_id"] != buyer_id:
        raise NotFound("no such checkout")
    return await checkout_out(db, checkout_id)


async def buyer_orders(
    db: asyncpg.Pool, buyer_id: int, status: OrderStatus | None, cursor: int | None, limit: int
) -> list[OrderOut]:
    return await orders_out(db, await db.fetch(q.BUYER_ORDERS, buyer_id, status, cursor, limit + 1))


async def vendor_orders(
    db: asyncpg.Pool,
    vendor_id: int,
    status: OrderStatus | None,
    since: datetime | None,
    until: datetime | None,
    cursor: int | None,
    limit: int,
) -> list[OrderOut]:
    rows = await db.fetch(q.VENDOR_ORDERS, vendor_id, status, cursor, since, until, limit + 1)
    return await orders_out(db, rows)


class OrderDetail(Struct):
    order: OrderOut
    history: list[HistoryEntry]


async def order_for(
    db: asyncpg.Pool, order_id: int, *, buyer_id: int | None = None, vendor_id: int | None = None
) -> OrderDetail:
    """The order with its history, if it belongs to this buyer or this vendor; otherwise not found."""
    row = await db.fetchrow(q.GET_ORDER, order_id)
    if row is None or (buyer_id is not None and row["buyer_id"] != buyer_id):
        raise NotFound("no such order")
    if vendor_id is not None and row["vendor_id"] != vendor_id:
        raise NotFound("no such order")
    order = (await orders_out(db, [row]))[0]
    history = [HistoryEntry(**dict(h)) for h in await db.fetch(q.ORDER_HISTORY, order_id)]
    return OrderDetail(order, history)
