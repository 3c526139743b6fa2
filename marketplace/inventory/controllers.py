"""HTTP routes of inventory: a vendor's stock levels, adjustments and movement history."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.inventory import service
from marketplace.inventory.schemas import StockAdjustment, StockLevel


class InventoryController(Controller):
    path = "/vendor/inventory"
    tags = ["inventory"]
    guards = [requires_active_vendor]

    @get("/", summary="Stock per SKU; low=true lists only SKUs at or below their threshold")
    async def levels(
        self,
        state: AppState,
        request: AuthedRequest,
        low: FromQuery[bool] = False,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[StockLevel]:
        return await service.stock_levels(state.db, request.user.vendor_id, low, cursor, limit)

    @post("/{sku_id:int}", status_code=200, summary="Set or change on-hand stock (never below reserved)")
    async def adjust(
        self, state: AppState, request: AuthedRequest, sku_id: FromPath[int], data: JSONBody[StockAdjustment]
    ) -> StockLevel:
        return await service.adjust(state.db, request.user.vendor_id, request.user.id, sku_id, data)

    @get("/{sku_id:int}/movements", summary="The last 100 stock movements of a SKU")
    async def movements(self, state: AppState, request: AuthedRequest, sku_id: FromPath[int]) -> list[service.Movement]:
        return await service.movements(state.db, request.user.vendor_id, sku_id)
