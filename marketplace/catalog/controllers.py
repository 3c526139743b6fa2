"""HTTP routes of the catalog: categories, a vendor's own products, images, admin moderation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, PathParameter

from marketplace.catalog import ProductStatus, images, service
from marketplace.catalog.schemas import (
    CategoryIn,
    CategoryNode,
    CategoryOut,
    CategoryPatch,
    ImageOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    ReviewNoteIn,
    SkuIn,
    SkuPatch,
    TakeDownIn,
)
from marketplace.core.auth import AuthedRequest, admin_only, requires_active_vendor, requires_role
from marketplace.core.deps import AppState
from marketplace.core.errors import NotFound
from marketplace.core.paging import Cursor, Limit, Page

ImageName = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{32}\.(jpg|png|webp)$")]


@dataclass
class ImageUpload:
    file: UploadFile


class CategoryController(Controller):
    path = "/categories"
    tags = ["catalog"]

    @get("/", exclude_from_auth=True, summary="The category tree")
    async def tree(self, state: AppState) -> list[CategoryNode]:
        return await service.category_tree(state.db)


class AdminCatalogController(Controller):
    path = "/admin"
    opt = {"changes_catalog": True}  # buyers\' cached pages refresh after its writes
    tags = ["admin"]
    guards = [admin_only]

    @post("/categories", summary="Create a category (under parent_id, or at the top)")
    async def create_category(self, state: AppState, request: AuthedRequest, data: JSONBody[CategoryIn]) -> CategoryOut:
        return await service.create_category(state.db, request.user.id, data)

    @patch("/categories/{category_id:int}")
    async def update_category(
        self, state: AppState, request: AuthedRequest, category_id: FromPath[int], data: JSONBody[CategoryPatch]
    ) -> CategoryOut:
        return await service.update_category(state.db, request.user.id, category_id, data)

    @delete("/categories/{category_id:int}", summary="Delete an empty category")
    async def delete_category(self, state: AppState, request: AuthedRequest, category_id: FromPath[int]) -> None:
        await service.delete_category(state.db, request.user.id, category_id)

    @get("/products/{product_id:int}", summary="Any product, whatever its status")
    async def product(self, state: AppState, product_id: FromPath[int]) -> ProductOut:
        return await service.admin_product(state.db, product_id)

    @post("/products/{product_id:int}/take-down", status_code=200)
    async def take_down(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[TakeDownIn]
    ) -> ProductOut:
        return await service.take_down(state.db, request.user.id, product_id, data.reason)

    @post(
        "/products/{product_id:int}/restore",
        status_code=200,
        summary="Restore a taken-down product as unlisted",
    )
    async def restore(self, state: AppState, request: AuthedRequest, product_id: FromPath[int]) -> ProductOut:
        return await service.take_down(state.db, request.user.id, product_id, None)


class ListingReviewController(Controller):
    """The listing-review queue (LISTING_REVIEW): support or an admin approves or rejects pending products."""

    path = "/support/listings"
    opt = {"changes_catalog": True}  # an approval shows the product to buyers at once
    tags = ["risk"]
    guards = [requires_role("support", "admin")]

    @get("/", summary="Products waiting for review, oldest first")
    async def pending(self, state: AppState, cursor: Cursor = None, limit: Limit = 20) -> Page[ProductOut]:
        return await service.listings_to_review(state.db, cursor, limit)

    @post("/{product_id:int}/approve", status_code=200, summary="Approve: the product is listed")
    async def approve(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[ReviewNoteIn]
    ) -> ProductOut:
        return await service.review_listing(state.db, request.user.id, product_id, True, data.reason)

    @post("/{product_id:int}/reject", status_code=200, summary="Reject with a reason: the product returns to draft")
    async def reject(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[TakeDownIn]
    ) -> ProductOut:
        return await service.review_listing(state.db, request.user.id, product_id, False, data.reason)


class VendorProductController(Controller):
    """The signed-in vendor's own products; another vendor's product ids are not found."""

    path = "/vendor/products"
    opt = {"changes_catalog": True}  # buyers\' cached pages refresh after its writes
    tags = ["vendor products"]
    guards = [requires_active_vendor]

    @get("/", summary="My products, any status, newest first")
    async def products(
        self,
        state: AppState,
        request: AuthedRequest,
        status: FromQuery[ProductStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[ProductOut]:
        return await service.vendor_products(state.db, request.user.vendor_id, status, cursor, limit)

    @post("/", summary="Create a product (as a draft) with its SKUs and opening stock")
    async def create(self, state: AppState, request: AuthedRequest, data: JSONBody[ProductIn]) -> ProductOut:
        return await service.create_product(state.db, request.user.vendor_id, request.user.id, data)

    @get("/{product_id:int}")
    async def product(self, state: AppState, request: AuthedRequest, product_id: FromPath[int]) -> ProductOut:
        return await service.vendor_product(state.db, request.user.vendor_id, product_id)

    @patch("/{product_id:int}")
    async def update(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[ProductPatch]
    ) -> ProductOut:
        return await service.update_product(state.db, request.user.vendor_id, product_id, data)

    @post("/{product_id:int}/list", status_code=200, summary="Show the product to buyers")
    async def list_product(self, state: AppState, request: AuthedRequest, product_id: FromPath[int]) -> ProductOut:
        review = service.ListingReview.of(state.settings)  # a new or flagged shop's draft may wait for review
        vendor_id = request.user.vendor_id
        return await service.set_vendor_status(state.db, vendor_id, product_id, ProductStatus.LISTED, review)

    @post("/{product_id:int}/unlist", status_code=200, summary="Hide the product from buyers")
    async def unlist_product(self, state: AppState, request: AuthedRequest, product_id: FromPath[int]) -> ProductOut:
        return await service.set_vendor_status(state.db, request.user.vendor_id, product_id, ProductStatus.UNLISTED)

    @post("/{product_id:int}/skus", summary="Add a variant")
    async def add_sku(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[SkuIn]
    ) -> ProductOut:
        return await service.add_sku(state.db, request.user.vendor_id, request.user.id, product_id, data)

    @patch("/{product_id:int}/skus/{sku_id:int}", summary="Change a variant's price, attributes or threshold")
    async def update_sku(
        self,
        state: AppState,
        request: AuthedRequest,
        product_id: FromPath[int],
        sku_id: FromPath[int],
        data: JSONBody[SkuPatch],
    ) -> ProductOut:
        return await service.update_sku(state.db, request.user.vendor_id, product_id, sku_id, data)

    @post(
        "/{product_id:int}/images",
        summary="Upload an image (multipart field `file`; JPEG, PNG or WebP up to 5 MiB)",
        request_max_body_size=images.MAX_IMAGE_BYTES + 64 * 1024,
    )
    async def add_image(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], data: MultipartBody[ImageUpload]
    ) -> ImageOut:
        content = await data.file.read()
        return await service.add_image(state.db, state.settings.data_dir, request.user.vendor_id, product_id, content)

    @delete("/{product_id:int}/images/{image_id:int}")
    async def delete_image(
        self, state: AppState, request: AuthedRequest, product_id: FromPath[int], image_id: FromPath[int]
    ) -> None:
        await service.delete_image(state.db, request.user.vendor_id, product_id, image_id)


@get(
    "/images/{file_name:str}",
    exclude_from_auth=True,
    tags=["catalog"],
    summary="A product image",
    opt={"media_types": [media for media, _ in images.ALLOWED.values()]},  # documented (core/openapi.py)
)
async def image(state: AppState, file_name: ImageName) -> Response[bytes]:
    content_type = await service.image_content_type(state.db, file_name)
    path = images.image_dir(state.settings.data_dir) / file_name
    if content_type is None or not path.exists():
        raise NotFound("no such image")
    return Response(
        path.read_bytes(),
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
