"""HTTP routes of flash sales: /flash-sales (buyers and anyone), /vendor/flash-sales (a shop's own),
/marketing/flash-sales (marketers and admins, any shop)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.auth import (
    AuthedRequest,
    bearer_token,
    caller_of,
    requires_active_vendor,
    requires_role,
    token_user_id,
)
from marketplace.core.deps import AppState, client_ip
from marketplace.core.idempotency import IdempotencyKey, response_of
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.ratelimit import hit
from marketplace.flash_sales import service
from marketplace.flash_sales.schemas import FlashSaleIn, FlashSaleOut, PurchaseIn
from marketplace.orders.schemas import CheckoutOut

StatusFilter = Annotated[
    Literal["live", "scheduled", "ended"] | None,
    QueryParameter(description="Only live, only coming, or only ended sales (default: live and coming)"),
]


class FlashSaleController(Controller):
    path = "/flash-sales"
    tags = ["flash sales"]

    @get("/", exclude_from_auth=True, summary="Flash sales of listed products, newest first")
    async def sales(
        self,
        state: AppState,
        status: StatusFilter = None,
        product_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[FlashSaleOut]:
        return await service.listing(state.db, status, product_id, cursor, limit)

    @get("/{sale_id:int}", exclude_from_auth=True, summary="A sale with units left and a countdown")
    async def sale(self, state: AppState, request: Request, sale_id: FromPath[int]) -> FlashSaleOut:
        if per_ip := state.settings.flash_sale_rate_per_ip:  # countdown pages poll; purchases are the hot path
            await hit(state.redis, f"flash-page:{client_ip(request)}", per_ip * 5, 1)
        return await service.get(state.db, sale_id)

    @post(
        "/{sale_id:int}/purchase",
        exclude_from_auth=True,  # the token is checked here, its caller loaded only after the gate (see service)
        summary="Buy in a flash sale: a checkout of one line at the sale price, held for payment",
        description="Needs a buyer's access token. 409 with `reason` sold_out, limit_reached, not_started or "
        "ended; 429 when too fast.",
        responses={201: ResponseSpec(CheckoutOut, description="The checkout of one line, held for payment")},
    )
    async def purchase(
        self,
        state: AppState,
        request: Request,
        sale_id: FromPath[int],
        data: JSONBody[PurchaseIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        token = bearer_token(request)
        outcome = await service.purchase(
            state.db, state.gate, state.flash_purchases, state.settings, sale_id, token_user_id(token),
            client_ip(request), data,
            idempotency_key, confirm_buyer=lambda: caller_of(token, request),
        )  # fmt: skip
        return response_of(outcome)  # 201 with the checkout, or its replay (Idempotent-Replayed: true)


class VendorFlashSaleController(Controller):
    path = "/vendor/flash-sales"
    tags = ["flash sales"]
    guards = [requires_active_vendor]

    @get("/", summary="My shop's flash sales, newest first")
    async def sales(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[FlashSaleOut]:
        return await service.vendor_listing(state.db, request.user.vendor_id, cursor, limit)

    @post("/", summary="Put units of one of my SKUs on flash sale")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[FlashSaleIn]) -> FlashSaleOut:
        return await service.create(state.db, state.gate, request.user.id, data, request.user.vendor_id)

    @post("/{sale_id:int}/cancel", status_code=200, summary="Stop a sale before it ends")
    async def cancel(self, state: AppState, request: AuthedRequest, sale_id: FromPath[int]) -> FlashSaleOut:
        return await service.cancel(state.db, state.gate, request.user.id, sale_id, request.user.vendor_id)


class MarketingFlashSaleController(Controller):
    path = "/marketing/flash-sales"
    tags = ["flash sales"]
    guards = [requires_role("marketer", "admin")]

    @post("/", summary="Put units of any shop's SKU on flash sale")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[FlashSaleIn]) -> FlashSaleOut:
        return await service.create(state.db, state.gate, request.user.id, data, None)

    @post("/{sale_id:int}/cancel", status_code=200, summary="Stop any sale before it ends")
    async def cancel(self, state: AppState, request: AuthedRequest, sale_id: FromPath[int]) -> FlashSaleOut:
        return await service.cancel(state.db, state.gate, request.user.id, sale_id, None)
