"""HTTP routes of the vendors domain: applying, the vendor's own shop, public shop pages, admin review."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.security.jwt import Token

from marketplace.core.auth import CurrentUser, admin_only, requires_active_vendor
from marketplace.core.deps import Db
from marketplace.core.paging import Cursor, Limit, Page, page_of
from marketplace.vendors import ApplicationStatus, VendorStatus, service
from marketplace.vendors.schemas import (
    ApplicationIn,
    ApplicationOut,
    PublicVendorOut,
    ReasonIn,
    ShopPatch,
    VendorOut,
)

AuthedRequest = Request[CurrentUser, Token, Any]


class ApplicationController(Controller):
    path = "/vendor-applications"
    tags = ["vendors"]

    @post("/", summary="Apply to sell on the marketplace")
    async def apply(self, request: AuthedRequest, data: JSONBody[ApplicationIn], db: Db) -> ApplicationOut:
        return await service.apply(db, request.user.id, data)

    @get("/mine", summary="My applications, newest first")
    async def mine(self, request: AuthedRequest, db: Db) -> list[ApplicationOut]:
        return await service.my_applications(db, request.user.id)


class ShopController(Controller):
    """The signed-in vendor's own shop."""

    path = "/vendor/shop"
    tags = ["vendors"]
    guards = [requires_active_vendor]

    @get("/")
    async def shop(self, request: AuthedRequest, db: Db) -> VendorOut:
        return await service.get_vendor(db, request.user.vendor_id)

    @patch("/")
    async def update_shop(self, request: AuthedRequest, data: JSONBody[ShopPatch], db: Db) -> VendorOut:
        return await service.update_shop(db, request.user.vendor_id, data)


class PublicVendorController(Controller):
    path = "/vendors"
    tags = ["vendors"]

    @get("/{vendor_id:int}", exclude_from_auth=True, summary="A shop's public page (active shops only)")
    async def shop(self, vendor_id: FromPath[int], db: Db) -> PublicVendorOut:
        return await service.public_vendor(db, vendor_id)


class AdminVendorController(Controller):
    path = "/admin"
    tags = ["admin"]
    guards = [admin_only]

    @get("/vendor-applications", summary="Applications, newest first (default: pending)")
    async def applications(
        self,
        db: Db,
        status: FromQuery[ApplicationStatus | None] = ApplicationStatus.PENDING,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[ApplicationOut]:
        return page_of(await service.list_applications(db, status, cursor, limit), limit)

    @post("/vendor-applications/{application_id:int}/approve", status_code=200)
    async def approve(self, request: AuthedRequest, application_id: FromPath[int], db: Db) -> VendorOut:
        return await service.approve(db, request.user.id, application_id)

    @post("/vendor-applications/{application_id:int}/reject", status_code=200)
    async def reject(
        self, request: AuthedRequest, application_id: FromPath[int], data: JSONBody[ReasonIn], db: Db
    ) -> ApplicationOut:
        return await service.reject(db, request.user.id, application_id, data.reason)

    @get("/vendors", summary="Vendors, newest first")
    async def vendors(
        self, db: Db, status: FromQuery[VendorStatus | None] = None, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[VendorOut]:
        return page_of(await service.list_vendors(db, status, cursor, limit), limit)

    @get("/vendors/{vendor_id:int}")
    async def vendor(self, vendor_id: FromPath[int], db: Db) -> VendorOut:
        return await service.get_vendor(db, vendor_id)

    @post("/vendors/{vendor_id:int}/suspend", status_code=200)
    async def suspend(
        self, request: AuthedRequest, vendor_id: FromPath[int], data: JSONBody[ReasonIn], db: Db
    ) -> VendorOut:
        return await service.set_status(db, request.user.id, vendor_id, VendorStatus.SUSPENDED, data.reason)

    @post("/vendors/{vendor_id:int}/reinstate", status_code=200)
    async def reinstate(self, request: AuthedRequest, vendor_id: FromPath[int], db: Db) -> VendorOut:
        return await service.set_status(db, request.user.id, vendor_id, VendorStatus.ACTIVE, None)
