"""HTTP routes that move an order: a buyer cancels or confirms receipt (/orders/{id}/...), a vendor accepts,
ships, delivers or rejects (/vendor/orders/{id}/...). They call `order_moves.transition`, which applies what
the move sets off in other packages; the routes that read orders are in orders/controllers.py."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.orders import OrderStatus, read
from marketplace.orders.actions import Shipment
from marketplace.orders.schemas import CancelIn, ShipIn
from marketplace.workflows.order_moves import transition


class BuyerOrderMoveController(Controller):
    path = "/orders"
    tags = ["orders"]

    @post("/{order_id:int}/cancel", status_code=200, summary="Cancel before shipment (paid orders are refunded)")
    async def cancel(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[CancelIn]
    ) -> read.OrderDetail:
        user = request.user.id
        return await transition(
            state.db, order_id, OrderStatus.CANCELLED, actor_id=user, buyer_id=user, reason=data.reason
        )

    @post("/{order_id:int}/confirm-receipt", status_code=200, summary="Confirm a delivered order: it completes")
    async def confirm(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        user = request.user.id
        return await transition(state.db, order_id, OrderStatus.COMPLETED, actor_id=user, buyer_id=user)


class VendorOrderMoveController(Controller):
    path = "/vendor/orders"
    tags = ["vendor orders"]
    guards = [requires_active_vendor]

    @post("/{order_id:int}/accept", status_code=200)
    async def accept(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        return await self._move(state, request, order_id, OrderStatus.ACCEPTED)

    @post("/{order_id:int}/ship", status_code=200, summary="Hand over to a carrier, with the tracking number")
    async def ship(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[ShipIn]
    ) -> read.OrderDetail:
        shipment = Shipment(data.carrier, data.tracking_number, data.estimated_arrival)
        return await self._move(state, request, order_id, OrderStatus.SHIPPED, shipment=shipment)

    @post("/{order_id:int}/deliver", status_code=200)
    async def deliver(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        return await self._move(state, request, order_id, OrderStatus.DELIVERED)

    @post("/{order_id:int}/reject", status_code=200, summary="Refuse the order; a paid order is refunded")
    async def reject(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[CancelIn]
    ) -> read.OrderDetail:
        return await self._move(state, request, order_id, OrderStatus.CANCELLED, reason=data.reason)

    async def _move(
        self, state: AppState, request: AuthedRequest, order_id: int, target: OrderStatus, **kw: object
    ) -> read.OrderDetail:
        vendor = request.user.vendor_id
        return await transition(state.db, order_id, target, actor_id=request.user.id, vendor_id=vendor, **kw)  # type: ignore[arg-type]
