"""HTTP routes of checkout and orders: /checkouts, /orders (buyers), /vendor/orders (vendors)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.idempotency import run_once
from marketplace.core.paging import Cursor, Limit, Page, page_of
from marketplace.orders import OrderStatus, read
from marketplace.orders.place_checkout import encode, place_checkout
from marketplace.orders.schemas import CheckoutIn, CheckoutOut, OrderOut

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="Retry with the same key: the same checkout comes back"),
]


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
                conn, request.user.id, data.address_id, state.settings.checkout_payment_minutes
            )
            return 201, encode(checkout)

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
        return page_of(await read.buyer_orders(state.db, request.user.id, status, cursor, limit), limit)

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
        orders = await read.vendor_orders(state.db, request.user.vendor_id, status, since, until, cursor, limit)
        return page_of(orders, limit)

    @get("/{order_id:int}")
    async def order(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> read.OrderDetail:
        return await read.order_for(state.db, order_id, vendor_id=request.user.vendor_id)
