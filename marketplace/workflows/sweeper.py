"""The system's own moves: releases what unpaid checkouts hold once their payment time is up (reserved
stock, flash-sale units, promotions; their orders are cancelled and the checkout expires), and completes
delivered orders the buyer never confirmed (earning their points), and refunds group buys that did not fill
in time (group_buys.py). Runs in every app process; SKIP LOCKED shares the work without overlap."""

from __future__ import annotations

import logging

import asyncpg

from marketplace.core import idempotency
from marketplace.core.outage import run_forever
from marketplace.core.states import Actor
from marketplace.disputes import service as disputes
from marketplace.flash_sales.service import return_units
from marketplace.group_buys import service as group_buys
from marketplace.inventory.service import release_reserved
from marketplace.orders import CheckoutStatus, OrderStatus, actions, read
from marketplace.promotions import service as promotions
from marketplace.workflows.group_buys import expire_groups

log = logging.getLogger(__name__)


async def expire_unpaid(db: asyncpg.Pool, batch: int = 100) -> int:
    """Expire up to `batch` overdue checkouts in one transaction; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        checkouts = await actions.lock_expired_checkouts(conn, batch)
        if checkouts:  # flash-sale units and group-buy seats first: both are locked before the SKU
            unpaid = await read.unpaid_orders_of_checkouts(conn, [c["id"] for c in checkouts])
            await return_units(conn, unpaid)
            await group_buys.members_left(conn, unpaid)
            # The whole batch's SKUs in id order: one checkout's at a time would hold a later SKU while
            # waiting for an earlier one that a checkout being placed holds while waiting for the later.
            for line in await read.reserved_lines_of_checkouts(conn, [c["id"] for c in checkouts]):
                await release_reserved(conn, line["sku_id"], line["quantity"])
        for checkout in checkouts:
            orders = await actions.lock_open_orders(conn, checkout["id"], OrderStatus.PENDING_PAYMENT)
            await actions.move(conn, orders, OrderStatus.CANCELLED, Actor.SYSTEM, note=actions.EXPIRY_REASON)
            await actions.move_checkout(
                conn, checkout["id"], CheckoutStatus(checkout["status"]), CheckoutStatus.EXPIRED, Actor.SYSTEM
            )
            await promotions.release(conn, checkout["id"])
    return len(checkouts)


async def complete_delivered(db: asyncpg.Pool, after_days: int, batch: int = 500) -> int:
    """Complete delivered orders nobody confirmed within `after_days`; returns how many."""
    async with db.acquire() as conn, conn.transaction():
        due = await actions.lock_due_for_completion(conn, after_days, batch)
        await promotions.earn(conn, [order["id"] for order in due])
        note = f"completed automatically {after_days} days after delivery"
        await actions.move(conn, due, OrderStatus.COMPLETED, Actor.SYSTEM, note=note)
    return len(due)


async def run_sweeper(db: asyncpg.Pool, interval: float, complete_after_days: int) -> None:
    async def sweep() -> None:
        while await expire_unpaid(db) > 0:
            pass
        while await complete_delivered(db, complete_after_days) > 0:
            pass
        while await expire_groups(db) > 0:
            pass
        while await disputes.escalate_overdue(db) > 0:  # shops past their answer window
            pass
        await idempotency.purge_expired(db)

    await run_forever("checkout sweeper", sweep, interval)
