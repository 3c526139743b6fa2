"""Releases what unpaid checkouts hold once their payment time is up: the reserved stock goes back and
their orders are cancelled. Runs in every app process; SKIP LOCKED shares the work without overlap."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from marketplace.core.events import append_event
from marketplace.inventory.service import announce
from marketplace.orders import CheckoutStatus, OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.place_checkout import buyer_orders_topic, vendor_orders_topic

log = logging.getLogger(__name__)
REASON = "payment not received in time"


async def expire_unpaid(db: asyncpg.Pool, batch: int = 100) -> int:
    """Expire up to `batch` overdue checkouts in one transaction; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        checkouts = await conn.fetch(q.EXPIRED_CHECKOUTS, batch)
        for checkout in checkouts:
            for line in await conn.fetch(q.RESERVED_LINES_OF_CHECKOUT, checkout["id"]):
                sku = await conn.fetchrow(q.RELEASE, line["sku_id"], line["quantity"])
                await announce(conn, line["sku_id"], sku)
            for order in await conn.fetch(q.CANCEL_UNPAID_ORDERS, checkout["id"], REASON):
                await conn.execute(
                    q.INSERT_HISTORY, order["id"], OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, None, REASON
                )
                payload = {"order_id": order["id"], "status": OrderStatus.CANCELLED, "reason": REASON}
                await append_event(conn, vendor_orders_topic(order["vendor_id"]), "order.cancelled", payload)
                await append_event(conn, buyer_orders_topic(checkout["buyer_id"]), "order.cancelled", payload)
            await conn.execute(q.SET_CHECKOUT_STATUS, checkout["id"], CheckoutStatus.EXPIRED)
    return len(checkouts)


async def run_sweeper(db: asyncpg.Pool, interval: float) -> None:
    while True:
        try:
            while await expire_unpaid(db) > 0:
                pass
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("checkout sweeper failed this round: %s", exc)
        await asyncio.sleep(interval)
