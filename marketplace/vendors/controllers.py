"""HTTP routes of the vendors domain: applying, the vendor's own shop, public shop pages, admin review."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from marketplace.core.auth import AuthedRequest, admin_only, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.risk import trust as risk_trust
from marketplace.vendors import ApplicationStatus, VendorStatus, service
from marketplace.vendors.schemas import (
    ApplicationIn,
    ApplicationOut,
    PublicVendorOut,
    ReasonIn,
    ShopPatch,
    VendorOut,
)


class ApplicationController(Controller):
    path = "/vendor-applications"
    tags = ["vendors"]

    @post("/", summary="Apply to sell on the marketplace")
    async def apply(self, state: AppState, request: AuthedRequest, data: JSONBody[ApplicationIn]) -> ApplicationOut:
        return await service.apply(state.db, request.user.id, data)

    @get("/mine", summary="My applications, newest first")
    async def mine(self, state: AppState, request: AuthedRequest) -> list[ApplicationOut]:
        return await service.my_applications(state.db, request.user.id)


class ShopController(Controller):
    """The signed-in vendor's own shop."""

    path = "/vendor/shop"
    tags = ["vendors"]
    guards = [requires_active_vendor]

    @get("/")
    async def shop(self, state: AppState, request: AuthedRequest) -> VendorOut:
        return await service.get_vendor(state.db, request.user.vendor_id)

    @patch("/")
    async def update_shop(self, state: AppState, request: AuthedRequest, data: JSONBody[ShopPatch]) -> VendorOut:
        return await service.update_shop(state.db, request.user.vendor_id, data)


class PublicVendorController(Controller):
    path = "/vendors"
    tags = ["vendors"]

    @get("/{vendor_id:int}", exclude_from_auth=True, summary="A shop's public page (active shops only)")
    async def shop(self, state: AppState, vendor_id: FromPath[int]) -> PublicVendorOut:
        shop = await service.public_vendor(state.db, vendor_id)
        window = state.settings.trust_window_days
        trust = await risk_trust.shop_trust(state.db, vendor_id, window, state.settings.ship_within_hours)
        return msgspec.structs.replace(shop, trust=trust)


class AdminVendorController(Controller):
    path = "/admin"
    opt = {"changes_catalog": True}  # buyers\' cached pages refresh after its writes
    tags = ["admin"]
    guards = [admin_only]

    @get("/vendor-applications", summary="Applications, newest first (default: pending)")
    async def applications(
        self,
        state: AppState,
        status: FromQuery[ApplicationStatus | None] = ApplicationStatus.PENDING,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[ApplicationOut]:
        return await service.list_applications(state.db, status, cursor, limit)

    @post("/vendor-applications/{application_id:int}/approve", status_code=200)
    async def approve(self, state: AppState, request: AuthedRequest, application_id: FromPath[int]) -> VendorOut:
        return await service.approve(state.db, request.user.id, application_id)

    @post("/vendor-applications/{application_id:int}/reject", status_code=200)
    async def reject(
        self, state: AppState, request: AuthedRequest, application_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> ApplicationOut:
        return await service.reject(state.db, request.user.id, application_id, data.reason)

    @get("/vendors", summary="Vendors, newest first")
    async def vendors(
        self, state: AppState, status: FromQuery[VendorStatus | None] = None, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[VendorOut]:
        return await service.list_vendors(state.db, status, cursor, limit)

    @get("/vendors/{vendor_id:int}")
    async def vendor(self, state: AppState, vendor_id: FromPath[int]) -> VendorOut:
        return await service.get_vendor(state.db, vendor_id)

    @post("/vendors/{vendor_id:int}/suspend", status_code=200)
    async def suspend(
        self, state: AppState, request: AuthedRequest, vendor_id: FromPath[int], data: JSONBody[ReasonIn]
    ) -> VendorOut:
        return await service.set_status(state.db, request.user.id, vendor_id, VendorStatus.SUSPENDED, data.reason)

    @post("/vendors/{vendor_id:int}/reinstate", status_code=200)
    async def reinstate(self, state: AppState, request: AuthedRequest, vendor_id: FromPath[int]) -> VendorOut:
        return await service.set_status(state.db, request.user.id, vendor_id, VendorStatus.ACTIVE, None)
