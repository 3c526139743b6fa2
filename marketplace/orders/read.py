"""Reading checkouts and orders, always scoped to who may see them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import asyncpg
from msgspec import Struct

from marketplace.core import fields
from marketplace.core.errors import NotFound
from marketplace.core.paging import Page, fetch_page
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.schemas import CheckoutOut, OrderLineOut, OrderOut


class HistoryEntry(Struct):
    from_status: str | None
    to_status: str
    actor_id: int | None
    note: str | None
    at: datetime


async def orders_out(
    conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record] | list[dict[str, Any]]
) -> list[OrderOut]:
    lines: dict[int, list[OrderLineOut]] = defaultdict(list)
    for line in await conn.fetch(q.LINES_OF_ORDERS, [r["id"] for r in rows]):
        lines[line["order_id"]].append(OrderLineOut(**{k: line[k] for k in OrderLineOut.__struct_fields__}))
    return [OrderOut(**dict(r), lines=lines[r["id"]]) for r in rows]


async def checkout_out(conn: asyncpg.Connection | asyncpg.Pool, checkout_id: int) -> CheckoutOut:
    row = await conn.fetchrow(q.GET_CHECKOUT, checkout_id)
    orders = await orders_out(conn, await conn.fetch(q.ORDERS_OF_CHECKOUT, checkout_id))
    shown = {k: row[k] for k in CheckoutOut.__struct_fields__ if k != "orders"}
    shown["shipping_address"] = fields.open_address(row["shipping_address"])
    return CheckoutOut(**shown, orders=orders)


async def buyer_checkout(db: asyncpg.Pool, buyer_id: int, checkout_id: int) -> CheckoutOut:
    row = await db.fetchrow(q.GET_CHECKOUT, checkout_id)
    if row is None or row["buyer_id"] != buyer_id:
        raise NotFound("no such checkout")
    return await checkout_out(db, checkout_id)


async def buyer_orders(
    db: asyncpg.Pool, buyer_id: int, status: OrderStatus | None, cursor: int | None, limit: int
) -> Page[OrderOut]:
    rows = await fetch_page(db, q.BUYER_ORDERS, buyer_id, status, cursor, limit=limit)
    return Page(await orders_out(db, rows.items), rows.next_cursor)


async def vendor_orders(
    db: asyncpg.Pool,
    vendor_id: int,
    status: OrderStatus | None,
    since: datetime | None,
    until: datetime | None,
    cursor: int | None,
    limit: int,
) -> Page[OrderOut]:
    rows = await fetch_page(db, q.VENDOR_ORDERS, vendor_id, status, cursor, since, until, limit=limit)
    return Page(await orders_out(db, rows.items), rows.next_cursor)


class OrderDetail(Struct):
    order: OrderOut
    history: list[HistoryEntry]
    # Where it ships: in full for its buyer, and for its vendor while the order is open or within the after-sales
    # window after it completed; afterwards the vendor sees the city, region and country only (`masked`).
    ship_to: dict[str, object]


async def order_for(
    db: asyncpg.Pool,
    order_id: int,
    *,
    buyer_id: int | None = None,
    vendor_id: int | None = None,
    aftersales_window_days: int = 14,
) -> OrderDetail:
    """The order with its history, if it belongs to this buyer or this vendor; otherwise not found."""
    row = await db.fetchrow(q.GET_ORDER, order_id, aftersales_window_days)
    if row is None or (buyer_id is not None and row["buyer_id"] != buyer_id):
        raise NotFound("no such order")
    if vendor_id is not None and row["vendor_id"] != vendor_id:
        raise NotFound("no such order")
    shown = dict(row)
    address = fields.open_address(shown.pop("shipping_address"))
    if not shown.pop("vendor_may_read") and vendor_id is not None:
        address = fields.mask_address(address)
    order = (await orders_out(db, [shown]))[0]
    history = [HistoryEntry(**dict(h)) for h in await db.fetch(q.ORDER_HISTORY, order_id)]
    return OrderDetail(order, history, address)


async def ship_to_accepted(db: asyncpg.Pool, vendor_id: int, order_ids: list[int]) -> dict[int, dict[str, object]]:
    """Where the shop's accepted orders among `order_ids` go, opened: the vendor is about to ship them."""
    rows = await db.fetch(q.SHIP_TO_ACCEPTED, vendor_id, order_ids)
    return {r["id"]: fields.open_address(r["shipping_address"]) for r in rows}


# What the workflows need to know about orders before they move them.


async def lines_of_order(conn: asyncpg.Connection, order_id: int) -> list[asyncpg.Record]:
    """(sku_id, quantity) of each of the order's lines, in SKU order (the order SKU rows are locked in)."""
    return await conn.fetch(q.LINES_OF_ORDER, order_id)


async def open_orders_of_checkout(conn: asyncpg.Connection, checkout_id: int) -> int:
    return await conn.fetchval(q.OPEN_ORDERS_OF_CHECKOUT, checkout_id)


async def reserved_lines_of_checkouts(conn: asyncpg.Connection, checkout_ids: list[int]) -> list[asyncpg.Record]:
    """(sku_id, quantity) the checkouts' unpaid orders hold in reservation, per SKU in id order (the order
    checkouts lock SKUs in, so releasing them this way cannot deadlock with a checkout)."""
    return await conn.fetch(q.RESERVED_LINES_OF_CHECKOUTS, checkout_ids)


async def unpaid_orders_of_checkouts(conn: asyncpg.Connection, checkout_ids: list[int]) -> list[int]:
    return await conn.fetchval(q.UNPAID_ORDERS_OF_CHECKOUTS, checkout_ids) or []


async def checkout_status(conn: asyncpg.Connection, checkout_id: int) -> CheckoutStatus:
    return CheckoutStatus(await conn.fetchval(q.CHECKOUT_STATUS, checkout_id))
