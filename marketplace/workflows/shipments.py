"""Carriers and orders together: a vendor ships an order through an integrated carrier (its tracking number
issued by the carrier, not typed), and the carrier's signed tracking events are stored and pushed to the
buyer, a `delivered` one moving the order to delivered (actor: system) through `orders.actions.move`, in the
event's own transaction. A forged or stale signature is refused and changes nothing; an event the carrier
sent before changes nothing either."""

from __future__ import annotations

from datetime import date

import asyncpg
import msgspec

from marketplace.core.errors import BadRequest, NotFound, Unauthorized, Unprocessable
from marketplace.core.states import Actor
from marketplace.logistics import service as logistics
from marketplace.logistics.carriers import Carrier, TrackingType
from marketplace.orders import OrderStatus, actions, read
from marketplace.orders.actions import ORDER_MOVES, Shipment
from marketplace.orders.read import OrderDetail
from marketplace.payments.service import collect_cash

S = OrderStatus


async def ship_with_carrier(
    db: asyncpg.Pool,
    carrier: Carrier,
    order_id: int,
    *,
    vendor_id: int,
    actor_id: int,
    estimated_arrival: date | None = None,
) -> OrderDetail:
    """The vendor hands its accepted order to `carrier`: the carrier issues the tracking number and the order
    moves to shipped with it, the shipment recorded in the same transaction."""
    async with db.acquire() as conn, conn.transaction():
        order = await actions.lock_order(conn, order_id)
        if order is None or order["vendor_id"] != vendor_id:
            raise NotFound("no such order")
        ORDER_MOVES.check(OrderStatus(order["status"]), S.SHIPPED, Actor.VENDOR)  # before the carrier is asked
        tracking = carrier.open_shipment(order_id)
        await logistics.open_shipment(conn, order_id, vendor_id, carrier.name, tracking)
        shipment = Shipment(carrier.display_name, tracking, estimated_arrival)
        await actions.move(conn, [order], S.SHIPPED, Actor.VENDOR, actor_id=actor_id, shipment=shipment)
    return await read.order_for(db, order_id, vendor_id=vendor_id)


async def receive_tracking_event(db: asyncpg.Pool, carrier: Carrier, body: bytes, signature: str | None) -> str:
    """Apply one webhook call of `carrier`: `applied` (stored and pushed), `delivered` (and the order moved to
    delivered), or `duplicate` (sent before: nothing changed)."""
    if not carrier.verify(body, signature):
        raise Unauthorized("the tracking event's signature does not verify")  # the signature is the credential
    try:
        event = carrier.parse(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRequest(f"the body is not a tracking event: {exc}") from None
    async with db.acquire() as conn, conn.transaction():
        shipment = await logistics.shipment_for_tracking(conn, carrier.name, event.tracking_number)
        if shipment is None:
            raise Unprocessable("no shipment has this tracking number", tracking_number=event.tracking_number)
        # The order first, as every move locks it: the carrier's event and a vendor's move wait for each other.
        order = await actions.lock_order(conn, shipment["order_id"])
        if not await logistics.record_event(conn, shipment, carrier.name, event):
            return "duplicate"
        if event.type != TrackingType.DELIVERED or order["status"] != S.SHIPPED:
            return "applied"  # an order already delivered (or completed) stays as it is
        if order["tracking_number"] != event.tracking_number:
            return "applied"  # a parcel given up as lost turned up after the order was sent again
        if order["cash_on_delivery"]:
            await collect_cash(conn, order)  # what a delivery sets off, as in order_moves.transition
        note = f"delivery confirmed by {carrier.display_name}"
        await actions.move(conn, [order], S.DELIVERED, Actor.SYSTEM, note=note)
    return "delivered"
