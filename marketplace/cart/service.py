"""Cart rules: only visible SKUs go in, one currency per cart, quantities bounded; prices read fresh."""

from __future__ import annotations

import asyncpg

from marketplace.cart import queries as q
from marketplace.cart.schemas import Cart, CartLine
from marketplace.core.errors import NotFound, Unprocessable

MAX_LINES = 100


async def get_cart(db: asyncpg.Pool | asyncpg.Connection, user_id: int) -> Cart:
    return _cart(await db.fetch(q.CART_LINES, user_id))


def _cart(rows: list[asyncpg.Record]) -> Cart:
    lines = [
        CartLine(
            sku_id=r["sku_id"],
            product_id=r["product_id"],
            vendor_id=r["vendor_id"],
            vendor_name=r["vendor_name"],
            title=r["title"],
            sku_code=r["sku_code"],
            attributes=r["attributes"],
            unit_price=r["unit_price"],
            quantity=r["quantity"],
            line_total=r["unit_price"] * r["quantity"],
            available=r["available"],
            purchasable=r["visible"] and r["available"] >= r["quantity"],
        )
        for r in rows
        if r["sku_id"] is not None
    ]
    return Cart(
        lines=lines,
        currency=rows[0]["currency"] if rows else None,
        items_total=sum(line.line_total for line in lines),
        item_count=sum(line.quantity for line in lines),
    )


async def set_quantity(db: asyncpg.Pool, user_id: int, sku_id: int, quantity: int) -> tuple[Cart, int]:
    """Put `quantity` of a SKU in the cart (replacing what was there). Returns the cart and the product id.
    The checks, the write and the cart read back are one statement: one round trip, no transaction to open
    and commit around it."""
    rows = await db.fetch(q.SET_LINE, sku_id, user_id, quantity, MAX_LINES)
    if not rows:
        raise NotFound("no such product variant for sale")
    if rows[0]["other_currency"]:
        raise Unprocessable("a cart holds one currency; check out or remove the other items first")
    if rows[0]["lines"] >= MAX_LINES:
        raise Unprocessable(f"a cart holds at most {MAX_LINES} different items")
    return _cart(rows), rows[0]["set_product_id"]


async def remove(db: asyncpg.Pool, user_id: int, sku_id: int) -> Cart:
    if await db.fetchval(q.DELETE_LINE, user_id, sku_id) is None:
        raise NotFound("this item is not in your cart")
    return await get_cart(db, user_id)


async def clear(db: asyncpg.Pool, user_id: int) -> None:
    await db.execute(q.CLEAR, user_id)
