"""Stock rules. PostgreSQL is the truth: on_hand never drops below reserved, and every change writes a
stock movement and a `stock.changed` event in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import asyncpg
from msgspec import Struct

from marketplace.core import topics
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_event
from marketplace.core.paging import Page, fetch_page
from marketplace.inventory import queries as q
from marketplace.inventory.schemas import StockAdjustment, StockLevel


class Movement(Struct):
    id: int
    delta: int
    on_hand: int
    reason: str
    actor_id: int | None
    created_at: datetime


def stock_event(product_id: int, sku_id: int, level: Mapping[str, int]) -> tuple[str, str, dict[str, int]]:
    """The `stock.changed` event for a SKU's new on hand, reserved and available figures."""
    figures = {
        "sku_id": sku_id,
        "on_hand": level["on_hand"],
        "reserved": level["reserved"],
        "available": level["available"],
    }
    return topics.product_stock(product_id), "stock.changed", figures


async def announce(conn: asyncpg.Connection, sku_id: int, level: Mapping[str, int]) -> None:
    """`stock.changed` from a row returned by an UPDATE ... RETURNING product_id, on_hand, reserved, available."""
    await append_event(conn, *stock_event(level["product_id"], sku_id, level))


async def record_initial_stock(
    conn: asyncpg.Connection, product_id: int, sku_id: int, on_hand: int, actor_id: int
) -> None:
    await conn.execute(q.INSERT_MOVEMENT, sku_id, on_hand, on_hand, "initial stock", actor_id, None)
    level = {"product_id": product_id, "on_hand": on_hand, "reserved": 0, "available": on_hand}
    await announce(conn, sku_id, level)


async def move_on_hand(
    conn: asyncpg.Connection, sku_id: int, delta: int, reason: str, actor_id: int | None, order_id: int | None
) -> bool:
    """Put units on the shelf (or take them off), with their movement and event. False, changing nothing,
    if that would leave fewer on hand than checkouts hold."""
    level = await conn.fetchrow(q.MOVE_ON_HAND, sku_id, delta)
    if level is None:
        return False
    await conn.execute(q.INSERT_MOVEMENT, sku_id, delta, level["on_hand"], reason, actor_id, order_id)
    await announce(conn, sku_id, level)
    return True


async def release_reserved(conn: asyncpg.Connection, sku_id: int, quantity: int) -> None:
    await announce(conn, sku_id, await conn.fetchrow(q.RELEASE_RESERVED, sku_id, quantity))


async def adjust(db: asyncpg.Pool, vendor_id: int, actor_id: int, sku_id: int, body: StockAdjustment) -> StockLevel:
    if (body.set is None) == (body.delta is None):
        raise Unprocessable("give exactly one of `set` or `delta`")
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.OWN_SKU_FOR_UPDATE, sku_id, vendor_id)
        if row is None:
            raise NotFound("no such SKU in your shop")
        target = body.set if body.set is not None else row["on_hand"] + (body.delta or 0)
        if target < 0:
            raise Conflict(f"only {row['on_hand']} on hand; cannot remove {-(body.delta or 0)}")
        after = await conn.fetchrow(q.SET_ON_HAND, sku_id, target, body.low_stock_threshold)
        if after is None:
            raise Conflict(f"{row['reserved']} units are reserved by checkouts; on hand cannot go below that")
        delta = after["on_hand"] - row["on_hand"]
        if delta:
            await conn.execute(q.INSERT_MOVEMENT, sku_id, delta, after["on_hand"], body.reason, actor_id, None)
            await announce(conn, sku_id, after)
        low = after["available"] <= after["low_stock_threshold"]  # crossing it raises stock.low (a trigger)
    return StockLevel(
        sku_id=sku_id,
        product_id=row["product_id"],
        code=row["code"],
        title=row["title"],
        on_hand=after["on_hand"],
        reserved=after["reserved"],
        available=after["available"],
        low_stock_threshold=after["low_stock_threshold"],
        low=low,
    )


def _level(row: asyncpg.Record) -> StockLevel:
    return StockLevel(**dict(row))


async def stock_levels(
    db: asyncpg.Pool, vendor_id: int, low_only: bool, cursor: int | None, limit: int
) -> Page[StockLevel]:
    """A page of the shop's SKUs, by SKU id (the cursor)."""
    return await fetch_page(db, q.LIST_STOCK, vendor_id, low_only, cursor, limit=limit, convert=_level, key="sku_id")


async def movements(db: asyncpg.Pool, vendor_id: int, sku_id: int) -> list[Movement]:
    """The SKU's last movements; another shop's SKU is not found, like a missing one."""
    async with db.acquire() as conn:
        if await conn.fetchval(q.OWN_SKU, sku_id, vendor_id) is None:
            raise NotFound("no such SKU in your shop")
        return [Movement(**dict(r)) for r in await conn.fetch(q.MOVEMENTS_OF_SKU, sku_id)]
