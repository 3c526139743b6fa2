"""HTTP routes of customer service's actions on orders and disputes (/support/...), for the support and admin
roles: cancel with a refund, a parcel lost in transit (refund or reship), and deciding a dispute. Each calls
workflows/support.py; a missing or blank reason is a 400 and changes nothing."""

from __future__ import annotations

from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, requires_role
from marketplace.core.deps import AppState
from marketplace.disputes.schemas import DecisionIn, DisputeOut
from marketplace.orders.read import OrderDetail
from marketplace.support.schemas import LostIn, SupportCancelIn
from marketplace.workflows import support


class SupportActionController(Controller):
    path = "/support"
    tags = ["support"]
    guards = [requires_role("support", "admin")]

    @post("/orders/{order_id:int}/cancel", status_code=200, summary="Cancel before shipment; a paid order is refunded")
    async def cancel(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[SupportCancelIn]
    ) -> OrderDetail:
        return await support.cancel_with_refund(state.db, request.user.id, order_id, data.reason)

    @post("/orders/{order_id:int}/lost", status_code=200, summary="The carrier lost the parcel: refund or reship")
    async def lost(
        self, state: AppState, request: AuthedRequest, order_id: FromPath[int], data: JSONBody[LostIn]
    ) -> OrderDetail:
        return await support.mark_lost(state.db, request.user.id, order_id, data.remedy, data.reason)

    @post("/disputes/{dispute_id:int}/decide", status_code=200, summary="Decide a dispute: refund, reship, reject")
    async def decide(
        self, state: AppState, request: AuthedRequest, dispute_id: FromPath[int], data: JSONBody[DecisionIn]
    ) -> DisputeOut:
        return await support.decide_dispute(state.db, request.user.id, dispute_id, data)
