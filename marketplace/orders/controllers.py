"""HTTP routes of checkout and orders: /checkouts, /orders (buyers), /vendor/orders (vendors). Moving an order
(cancel, confirm receipt, accept, ship, deliver, reject) sets off other packages, so those routes sit with the
workflow they call, in workflows/controllers.py."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.idempotency import IdempotencyKey, run_once
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.orders import OrderStatus, read
from marketplace.orders.place_checkout import place_checkout
from marketplace.orders.schemas import CheckoutIn, CheckoutOut, OrderOut


class CheckoutController(Controller):
    path = "/checkouts"
    tags = ["checkout"]

    @post("/", summary="Check out the cart: one checkout, one order per vendor, stock reserved")
    async def create(
        self,
        state: AppState,
        request: AuthedRequest,
        data: JSONBody[CheckoutIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CheckoutOut]:
        async def work(conn: asyncpg.Connection) -> tuple[int, bytes]:
            checkout = await place_checkout(
                conn, request.user.id, data.address_id, state.settings.checkout_payment_minutes, data.coupon_code,
                data.points,
            )  # fmt: skip
            return 201, msgspec.json.encode(checkout)

        body = msgspec.json.encode(data)
        return await run_once(state.db, request.user.id, "POST /checkouts", idempotency_key, body, work)

    @get("/{checkout_id:int}")
    async def checkout(self, state: AppState, request: AuthedRequest, checkout_id: FromPath[int]) -> CheckoutOut:
        return await read.buyer_checkout(state.db, request.user.id, checkout_id)


class BuyerOrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @get("/", summary="My orders, newest first")
    async def orders(
        self,
        state: AppState,
        request: AuthedRequest,
        status: FromQuery[OrderStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[OrderOut]:
        return await read.buyer_orders(state.db, request.user.id, status, cursor, limit)

    @get("/{order_id:int}", summary="One of my orders with its history")
    async def order(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        return await read.order_for(state.db, order_id, buyer_id=request.user.id)


class VendorOrderController(Controller):
    path = "/vendor/orders"
    tags = ["vendor orders"]
    guards = [requires_active_vendor]

    @get("/", summary="My shop's orders, newest first, filtered by status and date")
    async def orders(
        self,
        state: AppState,
        request: AuthedRequest,
        status: FromQuery[OrderStatus | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[OrderOut]:
        return await read.vendor_orders(state.db, request.user.vendor_id, status, since, until, cursor, limit)

    @get("/{order_id:int}")
    async def order(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        window = state.settings.aftersales_window_days
        return await read.order_for(state.db, order_id, vendor_id=request.user.vendor_id, aftersales_window_days=window)
