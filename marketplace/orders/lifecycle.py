"""The order state machine. Every transition is checked against who may make it from which state (anything
else is a 409), recorded in the order's history and appended as an event for both live feeds, in one
transaction. Cancelling gives stock back: reserved units if unpaid, sold units (restocked) and the money
(refunded through the payment) if paid. Delivering a cash-on-delivery order records the cash collected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from marketplace.core.errors import Conflict, NotFound
from marketplace.core.events import append_event
from marketplace.flash_sales.service import return_units
from marketplace.inventory.service import move_on_hand, release_reserved
from marketplace.orders import OrderStatus
from marketplace.orders import queries as q
from marketplace.orders.place_checkout import buyer_orders_topic, vendor_orders_topic
from marketplace.orders.read import OrderDetail, order_for
from marketplace.payments.service import cancel_cash_order, collect_cash, payment_under_way, refund
from marketplace.promotions import service as promotions

S = OrderStatus
# (from, to) → who may do it
ALLOWED: dict[tuple[OrderStatus, OrderStatus], str] = {
    (S.PAID, S.ACCEPTED): "vendor",
    (S.CONFIRMED, S.ACCEPTED): "vendor",
    (S.ACCEPTED, S.SHIPPED): "vendor",
    (S.SHIPPED, S.DELIVERED): "vendor",
    (S.DELIVERED, S.COMPLETED): "buyer",
    (S.PENDING_PAYMENT, S.CANCELLED): "buyer",
    (S.CONFIRMED, S.CANCELLED): "buyer or vendor",
    (S.PAID, S.CANCELLED): "buyer or vendor",
    (S.ACCEPTED, S.CANCELLED): "buyer or vendor",
}


@dataclass
class Shipment:
    carrier: str
    tracking_number: str
    estimated_arrival: date | None


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
    """Move an order the caller owns (as its buyer or its vendor) to `target`."""
    role = "buyer" if buyer_id is not None else "vendor"
    async with db.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(q.ORDER_FOR_UPDATE, order_id)
        if order is None or (buyer_id is not None and order["buyer_id"] != buyer_id):
            raise NotFound("no such order")
        if vendor_id is not None and order["vendor_id"] != vendor_id:
            raise NotFound("no such order")
        current = OrderStatus(order["status"])
        allowed = ALLOWED.get((current, target))
        if allowed is None or role not in allowed:
            raise Conflict(f"a {role} cannot move a {current} order to {target}", order_status=current)
        if target == S.CANCELLED:
            await _give_back(conn, order, current, actor_id)
        if target == S.DELIVERED and order["cash_on_delivery"]:
            await collect_cash(conn, order)
        if target == S.COMPLETED:
            await promotions.earn(conn, [order_id])
        await conn.execute(
            q.SET_ORDER_STATUS,
            order_id,
            target,
            shipment.carrier if shipment else None,
            shipment.tracking_number if shipment else None,
            shipment.estimated_arrival if shipment else None,
            reason if target == S.CANCELLED else None,
        )
        await conn.execute(q.INSERT_HISTORY, order_id, current, target, actor_id, reason)
        payload: dict[str, object] = {"order_id": order_id, "status": target, "previous": current}
        if shipment:
            payload |= {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
        await append_event(conn, vendor_orders_topic(order["vendor_id"]), f"order.{target}", payload)
        await append_event(conn, buyer_orders_topic(order["buyer_id"]), f"order.{target}", payload)
    return await order_for(db, order_id, buyer_id=buyer_id, vendor_id=vendor_id)


async def _give_back(conn: asyncpg.Connection, order: asyncpg.Record, current: OrderStatus, actor_id: int) -> None:
    lines = await conn.fetch(q.LINES_OF_ORDER, order["id"])
    # A payment under way covers the whole checkout; cancelling part of it now would let that payment
    # settle the rest at the old total.
    if current == S.PENDING_PAYMENT and await payment_under_way(conn, order["checkout_id"]):
        raise Conflict("a payment for this checkout is under way; wait for it, then cancel for a refund")
    await return_units(conn, [order["id"]])  # before any SKU lock, as purchases take them
    if current == S.PENDING_PAYMENT:
        for line in lines:
            await release_reserved(conn, line["sku_id"], line["quantity"])
        if await conn.fetchval(q.OPEN_ORDERS_OF_CHECKOUT, order["checkout_id"]) <= 1:
            await conn.execute(q.CANCEL_CHECKOUT_IF_UNPAID, order["checkout_id"])
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
