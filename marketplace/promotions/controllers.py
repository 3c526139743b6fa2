"""HTTP routes of promotions: /marketing/coupons (marketers and admins: platform-funded ones only; a shop's coupon
is not found there), /vendor/coupons (a shop's own, shop-funded), /me/coupons (a buyer's wallet and claims) and
/me/loyalty (points and tier)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor, requires_role
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.promotions import service
from marketplace.promotions.schemas import ClaimIn, CouponIn, CouponOut, Issued, IssueIn, LoyaltyOut, WalletCoupon


class MarketingCouponController(Controller):
    path = "/marketing/coupons"
    tags = ["promotions"]
    guards = [requires_role("marketer", "admin")]

    @post("/", summary="Create a platform-funded coupon or automatic discount (any scope)")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[CouponIn]) -> CouponOut:
        return await service.create(state.db, request.user.id, data, None)

    @get("/", summary="Platform-funded coupons, newest first")
    async def coupons(self, state: AppState, cursor: Cursor = None, limit: Limit = 20) -> Page[CouponOut]:
        return await service.listing(state.db, None, cursor, limit)

    @get("/{coupon_id:int}")
    async def coupon(self, state: AppState, coupon_id: FromPath[int]) -> CouponOut:
        return await service.get(state.db, coupon_id, None)

    @post("/{coupon_id:int}/disable", status_code=200, summary="Stop a coupon (checkouts that used it stand)")
    async def disable(self, state: AppState, request: AuthedRequest, coupon_id: FromPath[int]) -> CouponOut:
        return await service.disable(state.db, request.user.id, coupon_id, None)

    @post("/{coupon_id:int}/issue", status_code=200, summary="Put a coupon in chosen buyers' wallets, live")
    async def issue(
        self, state: AppState, request: AuthedRequest, coupon_id: FromPath[int], data: JSONBody[IssueIn]
    ) -> Issued:
        return await service.issue_now(state.db, request.user.id, coupon_id, data.buyer_ids)


class VendorCouponController(Controller):
    path = "/vendor/coupons"
    tags = ["promotions"]
    guards = [requires_active_vendor]

    @post("/", summary="Create a coupon for my shop or some of my products (my shop pays for it)")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[CouponIn]) -> CouponOut:
        return await service.create(state.db, request.user.id, data, request.user.vendor_id)

    @get("/", summary="My shop's coupons, newest first")
    async def coupons(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[CouponOut]:
        return await service.listing(state.db, request.user.vendor_id, cursor, limit)

    @get("/{coupon_id:int}")
    async def coupon(self, state: AppState, request: AuthedRequest, coupon_id: FromPath[int]) -> CouponOut:
        return await service.get(state.db, coupon_id, request.user.vendor_id)

    @post("/{coupon_id:int}/disable", status_code=200)
    async def disable(self, state: AppState, request: AuthedRequest, coupon_id: FromPath[int]) -> CouponOut:
        return await service.disable(state.db, request.user.id, coupon_id, request.user.vendor_id)


class WalletController(Controller):
    path = "/me"
    tags = ["promotions"]

    @get("/coupons", summary="My coupons, usable ones first, with why the others are not")
    async def wallet(self, state: AppState, request: AuthedRequest) -> list[WalletCoupon]:
        return await service.wallet(state.db, request.user.id)

    @post("/coupons/claim", status_code=200, summary="Add a coupon to my wallet by its code")
    async def claim(self, state: AppState, request: AuthedRequest, data: JSONBody[ClaimIn]) -> WalletCoupon:
        return await service.claim(state.db, request.user.id, data.code)

    @get("/loyalty", summary="My points, tier, spend toward the next tier, and points history")
    async def loyalty(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> LoyaltyOut:
        return await service.loyalty(state.db, request.user.id, cursor, limit)
