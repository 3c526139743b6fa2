"""HTTP routes of risk control for support and admins: alerts (filter, evidence, decisions) and a scan on
demand. The listing-review queue is the catalog's (catalog/controllers.py), as product status is its own."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, requires_role
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.types import MAX_BIGINT
from marketplace.risk import AlertStatus, Rule, service
from marketplace.risk.schemas import AlertDecisionIn, AlertOut, ScanOut
from marketplace.risk.worker import scan_once

OnlyShop = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT, description="Only alerts naming this shop.")]


class RiskController(Controller):
    path = "/support/risk"
    tags = ["risk"]
    guards = [requires_role("support", "admin")]

    @get("/alerts", summary="Risk alerts, newest first, filtered by status, rule or shop")
    async def alerts(
        self,
        state: AppState,
        status: FromQuery[AlertStatus | None] = None,
        rule: FromQuery[Rule | None] = None,
        vendor_id: OnlyShop = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[AlertOut]:
        return await service.alerts(state.db, status, rule, vendor_id, cursor, limit)

    @get("/alerts/{alert_id:int}", summary="An alert with its evidence")
    async def alert(self, state: AppState, alert_id: FromPath[int]) -> AlertOut:
        return await service.alert(state.db, alert_id)

    @post("/alerts/{alert_id:int}/acknowledge", status_code=200, summary="Say someone is looking into it")
    async def acknowledge(
        self, state: AppState, request: AuthedRequest, alert_id: FromPath[int], data: JSONBody[AlertDecisionIn]
    ) -> AlertOut:
        return await service.decide(state.db, request.user.id, alert_id, AlertStatus.ACKNOWLEDGED, data.reason)

    @post("/alerts/{alert_id:int}/confirm", status_code=200, summary="Confirm the abuse; its payouts stay held")
    async def confirm(
        self, state: AppState, request: AuthedRequest, alert_id: FromPath[int], data: JSONBody[AlertDecisionIn]
    ) -> AlertOut:
        return await service.decide(state.db, request.user.id, alert_id, AlertStatus.CONFIRMED, data.reason)

    @post("/alerts/{alert_id:int}/dismiss", status_code=200, summary="A false alarm: releases its payout holds")
    async def dismiss(
        self, state: AppState, request: AuthedRequest, alert_id: FromPath[int], data: JSONBody[AlertDecisionIn]
    ) -> AlertOut:
        return await service.decide(state.db, request.user.id, alert_id, AlertStatus.DISMISSED, data.reason)

    @post("/scan", status_code=200, summary="Run the rules and the trust scores now")
    async def scan(self, state: AppState) -> ScanOut:
        return await scan_once(state.db, state.settings, wait=True)
