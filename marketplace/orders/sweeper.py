"""Releases what unpaid checkouts hold once their payment time is up: the reserved stock goes back and
their orders are cancelled. Also completes delivered orders the buyer never confirmed. Runs in every app
process; SKIP LOCKED shares the work without overlap."""

from __future__ import annotations

import logging

import asyncpg

from marketplace.core import idempotency
from marketplace.core.events import append_event
from marketplace.core.outage import run_forever
from marketplace.flash_sales.service import return_units
from marketplace.inventory.service import release_reserved
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.place_checkout import buyer_orders_topic, vendor_orders_topic
from marketplace.promotions import service as promotions

log = logging.getLogger(__name__)
REASON = "payment not received in time"


async def expire_unpaid(db: asyncpg.Pool, batch: int = 100) -> int:
    """Expire up to `batch` overdue checkouts in one transaction; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        checkouts = await conn.fetch(q.EXPIRED_CHECKOUTS, batch)
        if checkouts:  # flash-sale units first: purchases lock the sale before the SKU
            await return_units(conn, await conn.fetchval(q.UNPAID_ORDERS_OF_CHECKOUTS, [c["id"] for c in checkouts]))
        for checkout in checkouts:
            for line in await conn.fetch(q.RESERVED_LINES_OF_CHECKOUT, checkout["id"]):
                await release_reserved(conn, line["sku_id"], line["quantity"])
            for order in await conn.fetch(q.CANCEL_UNPAID_ORDERS, checkout["id"], REASON):
                await conn.execute(
                    q.INSERT_HISTORY, order["id"], OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, None, REASON
                )
                payload = {"order_id": order["id"], "status": OrderStatus.CANCELLED, "reason": REASON}
                await append_event(conn, vendor_orders_topic(order["vendor_id"]), "order.cancelled", payload)
                await append_event(conn, buyer_orders_topic(checkout["buyer_id"]), "order.cancelled", payload)
            await conn.execute(q.SET_CHECKOUT_STATUS, checkout["id"], CheckoutStatus.EXPIRED)
            await promotions.release(conn, checkout["id"])
    return len(checkouts)


async def complete_delivered(db: asyncpg.Pool, after_days: int, batch: int = 500) -> int:
    """Complete delivered orders nobody confirmed within `after_days`; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        done = await conn.fetch(q.AUTO_COMPLETE, after_days, batch)
        await promotions.earn(conn, [order["id"] for order in done])
        for order in done:
            note = f"completed automatically {after_days} days after delivery"
            await conn.execute(q.INSERT_HISTORY, order["id"], OrderStatus.DELIVERED, OrderStatus.COMPLETED, None, note)
            payload = {"order_id": order["id"], "status": OrderStatus.COMPLETED, "previous": OrderStatus.DELIVERED}
            await append_event(conn, vendor_orders_topic(order["vendor_id"]), "order.completed", payload)
            await append_event(conn, buyer_orders_topic(order["buyer_id"]), "order.completed", payload)
    return len(done)


async def run_sweeper(db: asyncpg.Pool, interval: float, complete_after_days: int) -> None:
    async def sweep() -> None:
        while await expire_unpaid(db) > 0:
            pass
        while await complete_delivered(db, complete_after_days) > 0:
            pass
        await idempotency.purge_expired(db)

    await run_forever("checkout sweeper", sweep, interval)
