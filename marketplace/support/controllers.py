"""HTTP routes of the support desk (/support/...), for the support and admin roles: search, the views of an
order, a checkout, a buyer and a shop, internal notes and after-sales windows. Cancelling, lost parcels and
dispute decisions move orders and money, so their routes sit with that workflow
(workflows/support_controllers.py); disputes' own routes are in disputes/controllers.py."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, requires_role
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit
from marketplace.support import service
from marketplace.support.schemas import (
    BuyerView,
    CheckoutView,
    ExtendWindowIn,
    OrderView,
    SearchResults,
    ShopView,
    SupportNoteIn,
    SupportNoteOut,
    WindowOut,
)

support_only = requires_role("support", "admin")
PageNo = Annotated[int, QueryParameter(ge=1, le=10_000, description="Page number, from 1")]


class SupportDeskController(Controller):
    path = "/support"
    tags = ["support"]
    guards = [support_only]

    @get("/search", summary="Find orders, checkouts, payments, buyers and shops by id, email, name or tracking number")
    async def search(
        self,
        state: AppState,
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        page: PageNo = 1,
        limit: Limit = 20,
    ) -> SearchResults:
        return await service.search(state.db, q, page, limit)

    @get("/orders/{order_id:int}", summary="An order's whole story: history, payments, refunds, events, claims, notes")
    async def order(self, state: AppState, order_id: FromPath[int]) -> OrderView:
        settings = state.settings
        return await service.order_view(
            state.db, order_id, settings.aftersales_window_days, settings.dispute_transit_days
        )

    @post("/orders/{order_id:int}/notes", summary="Add an internal note (never shown to the buyer or the shop)")
    async def note(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[SupportNoteIn]
    ) -> SupportNoteOut:
        return await service.add_note(state.db, request.user.id, order_id, data.body)

    @post("/orders/{order_id:int}/aftersales-window", status_code=200, summary="Extend a delivered order's window")
    async def extend(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[ExtendWindowIn]
    ) -> WindowOut:
        window = state.settings.aftersales_window_days
        return await service.extend_window(state.db, request.user.id, order_id, data.days, data.reason, window)

    @get("/checkouts/{checkout_id:int}", summary="A checkout with its orders and payments")
    async def checkout(self, state: AppState, checkout_id: FromPath[int]) -> CheckoutView:
        return await service.checkout_view(state.db, checkout_id)

    @get("/buyers/{user_id:int}", summary="A buyer's account, orders (newest first) and disputes")
    async def buyer(
        self, state: AppState, user_id: FromPath[int], cursor: Cursor = None, limit: Limit = 20
    ) -> BuyerView:
        return await service.buyer_view(state.db, user_id, cursor, limit)

    @get("/shops/{vendor_id:int}", summary="A shop, its orders (newest first) and disputes")
    async def shop(
        self, state: AppState, vendor_id: FromPath[int], cursor: Cursor = None, limit: Limit = 20
    ) -> ShopView:
        return await service.shop_view(state.db, vendor_id, cursor, limit)
