"""Group buys that did not fill by their deadline (or whose deal was cancelled): in one transaction per
group, every paid member's order is cancelled through the ordinary cancellation (`order_moves.give_back`:
its unit back on the shelf, the whole order refunded through the payment and the ledger), every unpaid
member's checkout expires as the sweeper would expire it (its reserved unit released), and the group is
marked expired. Called by the sweeper (sweeper.py) in every app process."""

from __future__ import annotations

import asyncpg

from marketplace.core.states import Actor
from marketplace.group_buys import service as group_buys
from marketplace.inventory.service import release_reserved
from marketplace.orders import CheckoutStatus, OrderStatus, actions, read
from marketplace.promotions import service as promotions
from marketplace.workflows.order_moves import give_back

S = OrderStatus
REASON = "the group buy did not fill in time; refunded in full"


async def expire_groups(db: asyncpg.Pool, batch: int = 20) -> int:
    """Close up to `batch` groups past their deadline, one transaction each; returns how many it closed."""
    async with db.acquire() as conn:
        due = await group_buys.due_groups(conn, batch)
    closed = 0
    for group_id in due:
        async with db.acquire() as conn, conn.transaction():
            closed += await expire_group(conn, group_id)
    return closed


async def expire_group(conn: asyncpg.Connection, group_id: int) -> bool:
    """Inside the caller's transaction: False if the group was no longer due (it filled, or another worker
    closed it)."""
    members = await group_buys.lock_for_expiry(conn, group_id)
    if members is None:
        return False
    await group_buys.expire(conn, group_id)  # first: the cancellations below then leave its figures alone
    for member in members:
        order = await actions.lock_order(conn, member["order_id"])
        status = OrderStatus(order["status"])
        if status == S.PAID:
            await give_back(conn, order, Actor.SYSTEM, None)
            await actions.move(conn, [order], S.CANCELLED, Actor.SYSTEM, note=REASON)
        elif status == S.PENDING_PAYMENT:
            for line in await read.lines_of_order(conn, order["id"]):
                await release_reserved(conn, line["sku_id"], line["quantity"])
            await actions.move(conn, [order], S.CANCELLED, Actor.SYSTEM, note=REASON)
            await actions.move_checkout(
                conn, order["checkout_id"], CheckoutStatus.PENDING_PAYMENT, CheckoutStatus.EXPIRED, Actor.SYSTEM
            )
            await promotions.release(conn, order["checkout_id"])
    return True
