"""HTTP routes of after-sales for buyers (/aftersales, /orders/{id}/aftersales), vendors
(/vendor/aftersales) and admins (/admin/aftersales)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from marketplace.aftersales import Status, service
from marketplace.aftersales.schemas import (
    MessageIn,
    NoteIn,
    OverturnIn,
    ReceivedIn,
    RefundIn,
    RequestIn,
    RequestOut,
    ShipmentIn,
)
from marketplace.aftersales.service import Party
from marketplace.core.auth import AuthedRequest, admin_only, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.states import Actor


def _vendor(request: AuthedRequest) -> Party:
    return Party(request.user.id, Actor.VENDOR, request.user.vendor_id)


def _admin(request: AuthedRequest) -> Party:
    return Party(request.user.id, Actor.ADMIN)


class _Thread(Controller):
    """Reading requests and writing in their threads, as whoever `party` says the caller is."""

    def party(self, request: AuthedRequest) -> Party:
        raise NotImplementedError

    @get("/")
    async def requests(
        self,
        state: AppState,
        request: AuthedRequest,
        status: FromQuery[Status | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[RequestOut]:
        return await service.listing(state.db, self.party(request), status, cursor, limit)

    @get("/{request_id:int}")
    async def one(self, state: AppState, request: AuthedRequest, request_id: FromPath[int]) -> RequestOut:
        return await service.get(state.db, self.party(request), request_id)

    @post("/{request_id:int}/messages", summary="Write in the request's thread")
    async def message(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[MessageIn]
    ) -> RequestOut:
        return await service.post_message(state.db, self.party(request), request_id, data.body)


class OpenAftersalesController(Controller):
    path = "/orders/{order_id:int}/aftersales"
    tags = ["after-sales"]

    @post("/", summary="Ask for a return, an exchange or a refund on a delivered order")
    async def open(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[RequestIn]
    ) -> RequestOut:
        window = state.settings.aftersales_window_days
        return await service.open_request(state.db, request.user.id, order_id, data, window)


class BuyerAftersalesController(_Thread):
    path = "/aftersales"
    tags = ["after-sales"]

    def party(self, request: AuthedRequest) -> Party:
        return Party(request.user.id, Actor.BUYER)

    @post("/{request_id:int}/return-shipped", status_code=200, summary="I have sent the goods back")
    async def shipped(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[ShipmentIn]
    ) -> RequestOut:
        party = self.party(request)
        return await service.act(
            state.db, party, request_id, "return_shipped", carrier=data.carrier, tracking=data.tracking_number
        )

    @post("/{request_id:int}/withdraw", status_code=200)
    async def withdraw(self, state: AppState, request: AuthedRequest, request_id: FromPath[int]) -> RequestOut:
        return await service.act(state.db, self.party(request), request_id, "withdraw")


class _Deciding(_Thread):
    """Decisions a vendor takes on its requests and an admin on any."""

    @post("/{request_id:int}/approve", status_code=200)
    async def approve(self, state: AppState, request: AuthedRequest, request_id: FromPath[int]) -> RequestOut:
        return await service.act(state.db, self.party(request), request_id, "approve")

    @post("/{request_id:int}/reject", status_code=200)
    async def reject(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[NoteIn]
    ) -> RequestOut:
        return await service.act(state.db, self.party(request), request_id, "reject", note=data.note)

    @post("/{request_id:int}/received", status_code=200, summary="The returned goods arrived")
    async def received(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[ReceivedIn]
    ) -> RequestOut:
        return await service.act(state.db, self.party(request), request_id, "received", restock=data.restock)

    @post("/{request_id:int}/refund", status_code=200, summary="Refund through the payment (partial allowed)")
    async def refund(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[RefundIn]
    ) -> RequestOut:
        return await service.act(state.db, self.party(request), request_id, "refund", amount=data.amount)

    @post("/{request_id:int}/ship-replacement", status_code=200)
    async def ship_replacement(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[ShipmentIn]
    ) -> RequestOut:
        party = self.party(request)
        return await service.act(state.db, party, request_id, "ship_replacement", tracking=data.tracking_number)


class VendorAftersalesController(_Deciding):
    path = "/vendor/aftersales"
    tags = ["after-sales"]
    guards = [requires_active_vendor]

    def party(self, request: AuthedRequest) -> Party:
        return _vendor(request)


class AdminAftersalesController(_Deciding):
    path = "/admin/aftersales"
    tags = ["admin"]
    guards = [admin_only]

    def party(self, request: AuthedRequest) -> Party:
        return _admin(request)

    @post(
        "/{request_id:int}/overturn",
        status_code=200,
        summary="Overrule a rejection: approve the request again, or refund it at once (`refund`), with a reason",
    )
    async def overturn(
        self, state: AppState, request: AuthedRequest, request_id: FromPath[int], data: JSONBody[OverturnIn]
    ) -> RequestOut:
        return await service.overturn(state.db, self.party(request), request_id, data)
