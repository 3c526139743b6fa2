"""HTTP routes of group buys: /group-buys (deals and groups anyone sees; buyers start, join and list theirs)
and /vendor/group-buys (a shop's own deals)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.idempotency import IdempotencyKey, response_of
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.group_buys import service
from marketplace.group_buys.schemas import DealIn, DealOut, GroupOut, JoinIn, JoinOut, MembershipOut


class DealWithGroups(msgspec.Struct):
    deal: DealOut
    open_groups: list[GroupOut]


JOINED = {201: ResponseSpec(JoinOut, generate_examples=False, description="The group and the checkout to pay now")}
REFUSALS = "409 with `reason` full, closed, already_member, limit_reached or not_running."


class GroupBuyController(Controller):
    path = "/group-buys"
    tags = ["group buys"]

    @get("/deals", exclude_from_auth=True, summary="Running and coming group-buy deals of listed products")
    async def deals(
        self,
        state: AppState,
        product_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[DealOut]:
        return await service.public_deals(state.db, product_id, cursor, limit)

    @get("/deals/{deal_id:int}", exclude_from_auth=True, summary="A deal and its open groups")
    async def deal(self, state: AppState, deal_id: FromPath[int]) -> DealWithGroups:
        return DealWithGroups(*await service.public_deal(state.db, deal_id))

    @get("/{group_id:int}", exclude_from_auth=True, summary="A group: the share link's page (seats, countdown)")
    async def group(self, state: AppState, group_id: FromPath[int]) -> GroupOut:
        return await service.group(state.db, group_id)

    @get("/mine", summary="Groups I am or was in, newest first")
    async def mine(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[MembershipOut]:
        return await service.my_groups(state.db, request.user.id, cursor, limit)

    @post(
        "/deals/{deal_id:int}/groups",
        summary="Start a group and join it: a checkout of one unit at the group price, held for payment",
        description=REFUSALS,
        responses=JOINED,
    )
    async def start(
        self,
        state: AppState,
        request: AuthedRequest,
        deal_id: FromPath[int],
        data: JSONBody[JoinIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        minutes = state.settings.checkout_payment_minutes
        return response_of(await service.start(state.db, request.user.id, deal_id, data, idempotency_key, minutes))

    @post(
        "/{group_id:int}/join",
        summary="Join an open group: a checkout of one unit at the group price, held for payment",
        description=REFUSALS,
        responses=JOINED,
    )
    async def join(
        self,
        state: AppState,
        request: AuthedRequest,
        group_id: FromPath[int],
        data: JSONBody[JoinIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        minutes = state.settings.checkout_payment_minutes
        return response_of(await service.join(state.db, request.user.id, group_id, data, idempotency_key, minutes))


class VendorGroupBuyController(Controller):
    path = "/vendor/group-buys"
    tags = ["group buys"]
    guards = [requires_active_vendor]

    @get("/", summary="My shop's group-buy deals, newest first")
    async def deals(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[DealOut]:
        return await service.vendor_deals(state.db, request.user.vendor_id, cursor, limit)

    @post("/", summary="Offer one of my SKUs at a group price")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[DealIn]) -> DealOut:
        return await service.create_deal(state.db, request.user.id, request.user.vendor_id, data)

    @post(
        "/{deal_id:int}/cancel",
        status_code=200,
        summary="Stop a deal: no new groups; open groups close and their paid members are refunded",
    )
    async def cancel(self, state: AppState, request: AuthedRequest, deal_id: FromPath[int]) -> DealOut:
        return await service.cancel_deal(state.db, request.user.id, request.user.vendor_id, deal_id)
