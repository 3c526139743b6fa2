"""HTTP routes of reviews: writing and reading a product's reviews, and vendors' replies."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from marketplace.core.auth import AuthedRequest, requires_active_vendor
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.reviews import service
from marketplace.reviews.schemas import ReplyIn, ReviewIn, ReviewOut, VendorReviewOut


class ProductReviewController(Controller):
    path = "/products/{product_id:int}/reviews"
    tags = ["reviews"]
    opt = {"changes_catalog": True}  # ratings show in buyers' cached search pages

    @get("/", exclude_from_auth=True, summary="A product's reviews, newest first")
    async def reviews(
        self, state: AppState, product_id: FromPath[int], cursor: Cursor = None, limit: Limit = 20
    ) -> Page[ReviewOut]:
        return await service.of_product(state.db, product_id, cursor, limit)

    @post("/", summary="Review a product delivered to you (once)")
    async def write(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[ReviewIn]
    ) -> ReviewOut:
        return await service.write(state.db, request.user.id, product_id, data)


class VendorReviewController(Controller):
    path = "/vendor/reviews"
    tags = ["reviews"]
    guards = [requires_active_vendor]

    @get("/", summary="Every review of my shop's products, newest first")
    async def reviews(
        self, state: AppState, request: AuthedRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> Page[VendorReviewOut]:
        return await service.of_vendor(state.db, request.user.vendor_id, cursor, limit)

    @post("/{review_id:int}/reply", summary="Answer a review of one of my products (once)")
    async def reply(
        self, state: AppState, request: AuthedRequest, review_id: FromPath[int], data: JSONBody[ReplyIn]
    ) -> VendorReviewOut:
        return await service.reply(state.db, request.user.vendor_id, review_id, data.body)
