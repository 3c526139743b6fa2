"""HTTP routes of disputes: buyers (/disputes), shops (/vendor/disputes) and customer service
(/support/disputes: every dispute, the queue). Support's decision moves money and orders, so its route sits
with that workflow (workflows/support_controllers.py)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, requires_active_vendor, requires_role
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.states import Actor
from marketplace.core.types import Id
from marketplace.disputes import DisputeStatus, service
from marketplace.disputes.schemas import DisputeIn, DisputeMessageIn, DisputeOut, EscalateIn
from marketplace.disputes.service import DisputeQueue, Party, Rules
from marketplace.settings import Settings

support_only = requires_role("support", "admin")


def rules_of(settings: Settings) -> Rules:
    return Rules(settings.dispute_answer_hours, settings.dispute_transit_days, settings.aftersales_window_days)


class _Thread(Controller):
    """Reading disputes and writing in their threads, as whoever `party` says the caller is."""

    def party(self, request: AuthedRequest) -> Party:
        raise NotImplementedError

    @get("/", summary="Disputes, newest first")
    async def disputes(
        self,
        state: AppState,
        request: AuthedRequest,
        status: FromQuery[DisputeStatus | None] = None,
        order_id: FromQuery[Id | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[DisputeOut]:
        return await service.listing(state.db, self.party(request), status, cursor, limit, order_id)

    @get("/{dispute_id:int}")
    async def one(self, state: AppState, request: AuthedRequest, dispute_id: FromPath[int]) -> DisputeOut:
        return await service.get(state.db, self.party(request), dispute_id)

    @post("/{dispute_id:int}/messages", status_code=200, summary="Write in the dispute's thread")
    async def message(
        self, state: AppState, request: AuthedRequest, dispute_id: FromPath[int], data: JSONBody[DisputeMessageIn]
    ) -> DisputeOut:
        return await service.post_message(state.db, self.party(request), dispute_id, data.body)


class BuyerDisputeController(_Thread):
    path = "/disputes"
    tags = ["disputes"]

    def party(self, request: AuthedRequest) -> Party:
        return Party(request.user.id, Actor.BUYER)

    @post("/", summary="Report an order not received or not as described, or complain about a shop")
    async def open(self, state: AppState, request: AuthedRequest, data: JSONBody[DisputeIn]) -> DisputeOut:
        return await service.open_dispute(state.db, request.user.id, data, rules_of(state.settings))

    @post("/{dispute_id:int}/escalate", status_code=200, summary="Not satisfied with the shop's answer: ask support")
    async def escalate(
        self, state: AppState, request: AuthedRequest, dispute_id: FromPath[int], data: JSONBody[EscalateIn]
    ) -> DisputeOut:
        return await service.escalate(state.db, self.party(request), dispute_id, data.reason)

    @post("/{dispute_id:int}/withdraw", status_code=200)
    async def withdraw(self, state: AppState, request: AuthedRequest, dispute_id: FromPath[int]) -> DisputeOut:
        return await service.withdraw(state.db, self.party(request), dispute_id)


class VendorDisputeController(_Thread):
    path = "/vendor/disputes"
    tags = ["disputes"]
    guards = [requires_active_vendor]

    def party(self, request: AuthedRequest) -> Party:
        return Party(request.user.id, Actor.VENDOR, request.user.vendor_id)


class SupportDisputeController(_Thread):
    path = "/support/disputes"
    tags = ["support"]
    guards = [support_only]

    def party(self, request: AuthedRequest) -> Party:
        return Party(request.user.id, Actor.ADMIN)

    @get("/queue", summary="Live disputes: escalated first (oldest first), then by the shop's answer deadline")
    async def queue(
        self,
        state: AppState,
        status: FromQuery[DisputeStatus | None] = None,
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        limit: Limit = 20,
    ) -> DisputeQueue:
        return await service.queue(state.db, status, page, limit)
