"""HTTP routes of logistics: a shop's shipping templates and its products' template and weight
(/vendor/shipping-templates, /vendor/products/{id}/shipping; the vendor comes from the caller, never from the
request), an order's tracking for its buyer and its vendor, and late shipments for support and admins.
Shipping through a carrier and the carriers' webhooks move orders, so they sit with their workflow
(workflows/shipment_controllers.py)."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor, requires_role
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.types import Id
from marketplace.logistics import service
from marketplace.logistics.schemas import (
    LateShipmentOut,
    ProductShippingIn,
    ProductShippingOut,
    TemplateIn,
    TemplateOut,
    TrackingOut,
)


class VendorShippingTemplateController(Controller):
    path = "/vendor/shipping-templates"
    tags = ["vendor logistics"]
    guards = [requires_active_vendor]

    @get("/", summary="My shop's shipping templates (the default first applies to products naming none)")
    async def templates(self, state: AppState, request: AuthedRequest) -> list[TemplateOut]:
        return await service.templates_of(state.db, request.user.vendor_id)

    @post("/", summary="Add a shipping template; a shop's first is its default")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[TemplateIn]) -> TemplateOut:
        return await service.create_template(state.db, request.user.vendor_id, request.user.id, data)

    @get("/{template_id:int}")
    async def template(self, state: AppState, request: AuthedRequest, template_id: FromPath[int]) -> TemplateOut:
        return await service.template_of(state.db, request.user.vendor_id, template_id)

    @put("/{template_id:int}", summary="Replace a template's name, basis and rates")
    async def update(
        self, state: AppState, request: AuthedRequest, template_id: FromPath[int], data: JSONBody[TemplateIn]
    ) -> TemplateOut:
        return await service.update_template(state.db, request.user.vendor_id, request.user.id, template_id, data)

    @delete("/{template_id:int}", summary="Delete a template; its products use the default again")
    async def remove(self, state: AppState, request: AuthedRequest, template_id: FromPath[int]) -> None:
        await service.delete_template(state.db, request.user.vendor_id, request.user.id, template_id)


class VendorProductShippingController(Controller):
    path = "/vendor/products/{product_id:int}/shipping"
    tags = ["vendor logistics"]
    guards = [requires_active_vendor]

    @get("/", summary="The template a product ships under and its weight")
    async def shipping(self, state: AppState, request: AuthedRequest, product_id: FromPath[int]) -> ProductShippingOut:
        return await service.product_shipping(state.db, request.user.vendor_id, product_id)

    @put("/", summary="Set a product's template (none: the shop's default) and weight in grams")
    async def set_shipping(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[ProductShippingIn]
    ) -> ProductShippingOut:
        return await service.set_product_shipping(state.db, request.user.vendor_id, product_id, data)


class BuyerTrackingController(Controller):
    path = "/orders/{order_id:int}/tracking"
    tags = ["orders"]

    @get("/", summary="My order's shipment and its tracking timeline")
    async def tracking(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> TrackingOut:
        return await service.tracking_of(state.db, order_id, buyer_id=request.user.id)


class VendorTrackingController(Controller):
    path = "/vendor/orders/{order_id:int}/tracking"
    tags = ["vendor orders"]
    guards = [requires_active_vendor]

    @get("/", summary="An order's shipment and its tracking timeline")
    async def tracking(self, state: AppState, request: AuthedRequest, order_id: FromPath[int]) -> TrackingOut:
        return await service.tracking_of(state.db, order_id, vendor_id=request.user.vendor_id)


class VendorLateShipmentController(Controller):
    path = "/vendor/late-shipments"
    tags = ["vendor logistics"]
    guards = [requires_active_vendor]

    @get("/", summary="My paid orders past their ship-by time, still unshipped")
    async def late(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 50
    ) -> Page[LateShipmentOut]:
        hours = state.settings.ship_within_hours
        return await service.late_shipments(state.db, hours, request.user.vendor_id, cursor, limit)


class SupportLateShipmentController(Controller):
    path = "/support/late-shipments"
    tags = ["support"]
    guards = [requires_role("support", "admin")]

    @get("/", summary="Paid orders of every shop (or one) past their ship-by time, still unshipped")
    async def late(
        self, state: AppState, vendor_id: FromQuery[Id | None] = None, cursor: Cursor = None, limit: Limit = 50
    ) -> Page[LateShipmentOut]:
        return await service.late_shipments(state.db, state.settings.ship_within_hours, vendor_id, cursor, limit)
