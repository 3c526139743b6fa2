"""Checkout: the buyer's cart becomes one checkout split into one order per vendor, in one transaction.

Everything is priced here from the database; the client sends only which address to ship to. Stock is
reserved with a conditional update that cannot take more than is available, so concurrent checkouts for
the last units succeed exactly as often as there are units. Unpaid checkouts expire (see sweeper.py)."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import msgspec

from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_event
from marketplace.inventory.service import announce
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.read import checkout_out
from marketplace.orders.schemas import CheckoutOut

# Shipping per vendor order, in minor units: free from this order value up, otherwise a flat fee.
FREE_SHIPPING_FROM = 5000
SHIPPING_FEE = 499


def shipping_for(items_total: int) -> int:
    return 0 if items_total >= FREE_SHIPPING_FROM else SHIPPING_FEE


def vendor_orders_topic(vendor_id: int) -> str:
    return f"vendor:{vendor_id}:orders"


def buyer_orders_topic(buyer_id: int) -> str:
    return f"user:{buyer_id}:orders"


async def place_checkout(conn: asyncpg.Connection, buyer_id: int, address_id: int, payment_minutes: int) -> CheckoutOut:
    """Must run inside a transaction (the caller's, which may also complete an idempotency key)."""
    cart = await conn.fetch(q.LOCK_CART, buyer_id)
    if not cart:
        raise Unprocessable("your cart is empty")
    address = await conn.fetchrow(q.ADDRESS_OF_BUYER, address_id, buyer_id)
    if address is None:
        raise NotFound("no such address in your address book")
    quantities = {r["sku_id"]: r["quantity"] for r in cart}
    skus = await conn.fetch(q.SKUS_FOR_ORDER, list(quantities))
    gone = [s["title"] for s in skus if not s["visible"]] + ["(removed item)"] * (len(quantities) - len(skus))
    if gone:
        raise Conflict("some items are no longer for sale; remove them from your cart", items=gone)
    currencies = {s["currency"] for s in skus}
    if len(currencies) != 1:
        raise Unprocessable("a checkout is paid in one currency")

    for sku in skus:  # ordered by SKU id
        reserved = await conn.fetchrow(q.RESERVE, sku["sku_id"], quantities[sku["sku_id"]])
        if reserved is None:
            left = await conn.fetchval(q.AVAILABLE, sku["sku_id"])
            raise Conflict(
                f"only {left} left of {sku['title']} ({sku['code']})",
                sku_id=sku["sku_id"],
                available=left,
            )
        await announce(conn, sku["sku_id"], reserved)

    by_vendor: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for sku in skus:
        by_vendor[sku["vendor_id"]].append(sku)
    totals = {vendor: sum(s["price"] * quantities[s["sku_id"]] for s in lines) for vendor, lines in by_vendor.items()}
    shipping = {vendor: shipping_for(total) for vendor, total in totals.items()}
    items_total, shipping_total = sum(totals.values()), sum(shipping.values())
    currency = currencies.pop()
    checkout_id = await conn.fetchval(
        q.INSERT_CHECKOUT,
        buyer_id,
        currency,
        items_total,
        shipping_total,
        items_total + shipping_total,
        dict(address),
        payment_minutes * 60,
    )
    for vendor_id, lines in sorted(by_vendor.items()):
        total = totals[vendor_id] + shipping[vendor_id]
        order_id = await conn.fetchval(
            q.INSERT_ORDER, checkout_id, buyer_id, vendor_id, currency, totals[vendor_id], shipping[vendor_id], total
        )
        await conn.execute(
            q.INSERT_LINES,
            order_id,
            [s["sku_id"] for s in lines],
            [s["product_id"] for s in lines],
            [s["title"] for s in lines],
            [s["code"] for s in lines],
            [s["price"] for s in lines],
            [quantities[s["sku_id"]] for s in lines],
        )
        await conn.execute(q.INSERT_HISTORY, order_id, None, OrderStatus.PENDING_PAYMENT, buyer_id, "placed")
        summary = {
            "order_id": order_id,
            "checkout_id": checkout_id,
            "status": OrderStatus.PENDING_PAYMENT,
            "total": total,
            "currency": currency,
            "items": sum(quantities[s["sku_id"]] for s in lines),
        }
        await append_event(conn, vendor_orders_topic(vendor_id), "order.placed", summary)
        await append_event(conn, buyer_orders_topic(buyer_id), "order.placed", summary)
    await conn.execute(q.REMOVE_FROM_CART, buyer_id, list(quantities))
    return await checkout_out(conn, checkout_id)


def encode(checkout: CheckoutOut) -> bytes:
    return msgspec.json.encode(checkout)
