"""A buyer's or vendor's move of one order, with everything it sets off, in one transaction: the order is
locked, the move checked against `orders.actions.ORDER_MOVES` (a 409 otherwise), the effects in other
packages applied, then the status written by `orders.actions.move`."""

from __future__ import annotations

import asyncpg

from marketplace.core.errors import Conflict, NotFound
from marketplace.core.states import Actor
from marketplace.flash_sales.service import return_units
from marketplace.group_buys import service as group_buys
from marketplace.inventory.service import move_on_hand, release_reserved
from marketplace.logistics import service as logistics
from marketplace.orders import CheckoutStatus, OrderStatus, actions, read
from marketplace.orders.actions import ORDER_MOVES, Shipment
from marketplace.orders.read import OrderDetail
from marketplace.payments.service import cancel_cash_order, collect_cash, payment_under_way, refund
from marketplace.promotions import service as promotions

S = OrderStatus


async def transition(
    db: asyncpg.Pool,
    order_id: int,
    target: OrderStatus,
    *,
    actor_id: int,
    buyer_id: int | None = None,
    vendor_id: int | None = None,
    shipment: Shipment | None = None,
    reason: str | None = None,
) -> OrderDetail:
    """Move an order the caller owns (as its buyer, or as its vendor) to `target`."""
    actor = Actor.BUYER if buyer_id is not None else Actor.VENDOR
    async with db.acquire() as conn, conn.transaction():
        order = await actions.lock_order(conn, order_id)
        if order is None or (buyer_id is not None and order["buyer_id"] != buyer_id):
            raise NotFound("no such order")
        if vendor_id is not None and order["vendor_id"] != vendor_id:
            raise NotFound("no such order")
        current = OrderStatus(order["status"])
        ORDER_MOVES.check(current, target, actor)  # before any effect
        if target == S.DELIVERED and await logistics.is_carrier_tracked(conn, order_id, order["tracking_number"]):
            raise Conflict("this parcel's carrier confirms its delivery; it cannot be marked delivered by hand")
        if target == S.CANCELLED:
            await give_back(conn, order, actor, actor_id)
        elif target == S.DELIVERED and order["cash_on_delivery"]:
            await collect_cash(conn, order)
        elif target == S.COMPLETED:
            await promotions.earn(conn, [order_id])
        elif target == S.ACCEPTED:
            await group_buys.check_may_proceed(conn, order_id)
        await actions.move(conn, [order], target, actor, actor_id=actor_id, note=reason, shipment=shipment)
    return await read.order_for(db, order_id, buyer_id=buyer_id, vendor_id=vendor_id)


async def give_back(conn: asyncpg.Connection, order: asyncpg.Record, actor: Actor, actor_id: int | None) -> None:
    """What cancelling `order` returns, before its status changes: flash-sale units; the reservation of an
    unpaid order (and its share of promotions, or the whole checkout's once it was the last open order);
    a paid or confirmed order's units back onto the shelf and any money paid."""
    current = OrderStatus(order["status"])
    # A payment under way covers the whole checkout; cancelling part of it now would let that payment
    # settle the rest at the old total.
    if current == S.PENDING_PAYMENT and await payment_under_way(conn, order["checkout_id"]):
        raise Conflict("a payment for this checkout is under way; wait for it, then cancel for a refund")
    lines = await read.lines_of_order(conn, order["id"])
    await return_units(conn, [order["id"]])  # before any SKU lock, as purchases take them
    await group_buys.members_left(conn, [order["id"]])  # likewise: joins lock the group before the SKU
    if current == S.PENDING_PAYMENT:
        for line in lines:
            await release_reserved(conn, line["sku_id"], line["quantity"])
        if await read.open_orders_of_checkout(conn, order["checkout_id"]) <= 1:
            await actions.move_checkout(
                conn, order["checkout_id"], CheckoutStatus.PENDING_PAYMENT, CheckoutStatus.CANCELLED, actor
            )
            await promotions.release(conn, order["checkout_id"])
        else:
            await promotions.release_order(conn, order["checkout_id"], order["id"])
        return
    # Paid or confirmed: the units were sold, so they come back onto the shelf, and any money paid is refunded
    # (cash on delivery has taken none yet).
    for line in lines:
        await move_on_hand(conn, line["sku_id"], line["quantity"], "order cancelled", actor_id, order["id"])
    if order["cash_on_delivery"]:
        await cancel_cash_order(conn, order)
    else:
        await refund(conn, order["checkout_id"], order["id"], order["total"])
