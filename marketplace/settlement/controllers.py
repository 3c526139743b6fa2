"""HTTP routes of settlement: a vendor's balance and statement; commission rates, payouts and the
trial balance for admins."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import FromQuery, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest, admin_only, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.types import MAX_BIGINT
from marketplace.settlement import service
from marketplace.settlement.schemas import (
    Balance,
    PayoutIn,
    PayoutOut,
    RateIn,
    RateOut,
    StatementLine,
    TrialBalance,
)

OnlyVendor = Annotated[int | None, QueryParameter(ge=1, le=MAX_BIGINT, description="Only this shop's payouts.")]


class VendorSettlementController(Controller):
    path = "/vendor/settlement"
    tags = ["settlement"]
    guards = [requires_active_vendor]

    @get("/balance", summary="What the marketplace owes my shop now")
    async def balance(self, state: AppState, request: AuthedRequest, currency: FromQuery[str] = "EUR") -> Balance:
        return await service.balance(state.db, request.user.vendor_id, currency)

    @get("/statement", summary="My shop's ledger lines: payments, refunds and payouts, newest first")
    async def statement(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 50
    ) -> Page[StatementLine]:
        return await service.statement(state.db, request.user.vendor_id, cursor, limit)

    @get("/payouts", summary="The payouts made to my shop, newest first")
    async def payouts(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[PayoutOut]:
        return await service.payouts(state.db, request.user.vendor_id, cursor, limit)


class AdminSettlementController(Controller):
    path = "/admin/settlement"
    tags = ["admin"]
    guards = [admin_only]

    @get("/rates")
    async def rates(self, state: AppState) -> list[RateOut]:
        return await service.rates(state.db)

    @put("/rates", summary="Set the platform, a vendor's or a category's commission rate")
    async def set_rate(self, state: AppState, request: AuthedRequest, data: JSONBody[RateIn]) -> RateOut:
        return await service.set_rate(state.db, request.user.id, data)

    @get("/payouts", summary="Payouts to every shop (or one: vendor_id), newest first")
    async def payouts(
        self, state: AppState, vendor_id: OnlyVendor = None, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[PayoutOut]:
        return await service.payouts(state.db, vendor_id, cursor, limit)

    @post("/payouts", summary="Pay a vendor out of its balance")
    async def payout(self, state: AppState, request: AuthedRequest, data: JSONBody[PayoutIn]) -> PayoutOut:
        return await service.pay_out(state.db, request.user.id, data)

    @get("/trial-balance", summary="Every ledger account's balance; the total is always zero")
    async def trial_balance(self, state: AppState) -> TrialBalance:
        return await service.trial_balance(state.db)
