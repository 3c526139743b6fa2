"""HTTP routes of the catalog: categories, a vendor's own products, images, admin moderation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, PathParameter
from litestar.security.jwt import Token

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
    SkuIn,
    SkuPatch,
    TakeDownIn,
)
from marketplace.core.auth import CurrentUser, admin_only, requires_active_vendor
from marketplace.core.deps import AppSettings, Db
from marketplace.core.errors import NotFound
from marketplace.core.paging import Cursor, Limit, Page, page_of

AuthedRequest = Request[CurrentUser, Token, Any]
ImageName = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{32}\.(jpg|png|webp)$")]


@dataclass
class ImageUpload:
    file: UploadFile


class CategoryController(Controller):
    path = "/categories"
    tags = ["catalog"]

    @get("/", exclude_from_auth=True, summary="The category tree")
    async def tree(self, db: Db) -> list[CategoryNode]:
        return await service.category_tree(db)


class AdminCatalogController(Controller):
    path = "/admin"
    tags = ["admin"]
    guards = [admin_only]

    @post("/categories", summary="Create a category (under parent_id, or at the top)")
    async def create_category(self, request: AuthedRequest, data: JSONBody[CategoryIn], db: Db) -> CategoryOut:
        return await service.create_category(db, request.user.id, data)

    @patch("/categories/{category_id:int}")
    async def update_category(
        self, request: AuthedRequest, category_id: FromPath[int], data: JSONBody[CategoryPatch], db: Db
    ) -> CategoryOut:
        return await service.update_category(db, request.user.id, category_id, data)

    @delete("/categories/{category_id:int}", summary="Delete an empty category")
    async def delete_category(self, request: AuthedRequest, category_id: FromPath[int], db: Db) -> None:
        await service.delete_category(db, request.user.id, category_id)

    @get("/products/{product_id:int}", summary="Any product, whatever its status")
    async def product(self, product_id: FromPath[int], db: Db) -> ProductOut:
        return await service.admin_product(db, product_id)

    @post("/products/{product_id:int}/take-down", status_code=200)
    async def take_down(
        self, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[TakeDownIn], db: Db
    ) -> ProductOut:
        return await service.take_down(db, request.user.id, product_id, data.reason)

    @post(
        "/products/{product_id:int}/restore",
        status_code=200,
        summary="Restore a taken-down product as unlisted",
    )
    async def restore(self, request: AuthedRequest, product_id: FromPath[int], db: Db) -> ProductOut:
        return await service.take_down(db, request.user.id, product_id, None)


class VendorProductController(Controller):
    """The signed-in vendor's own products; another vendor's product ids are not found."""

    path = "/vendor/products"
    tags = ["vendor products"]
    guards = [requires_active_vendor]

    @get("/", summary="My products, any status, newest first")
    async def products(
        self,
        request: AuthedRequest,
        db: Db,
        status: FromQuery[ProductStatus | None] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[ProductOut]:
        return page_of(await service.vendor_products(db, request.user.vendor_id, status, cursor, limit), limit)

    @post("/", summary="Create a product (as a draft) with its SKUs and opening stock")
    async def create(self, request: AuthedRequest, data: JSONBody[ProductIn], db: Db) -> ProductOut:
        return await service.create_product(db, request.user.vendor_id, request.user.id, data)

    @get("/{product_id:int}")
    async def product(self, request: AuthedRequest, product_id: FromPath[int], db: Db) -> ProductOut:
        return await service.vendor_product(db, request.user.vendor_id, product_id)

    @patch("/{product_id:int}")
    async def update(
        self, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[ProductPatch], db: Db
    ) -> ProductOut:
        return await service.update_product(db, request.user.vendor_id, product_id, data)

    @post("/{product_id:int}/list", status_code=200, summary="Show the product to buyers")
    async def list_product(self, request: AuthedRequest, product_id: FromPath[int], db: Db) -> ProductOut:
        return await service.set_vendor_status(db, request.user.vendor_id, product_id, ProductStatus.LISTED)

    @post("/{product_id:int}/unlist", status_code=200, summary="Hide the product from buyers")
    async def unlist_product(self, request: AuthedRequest, product_id: FromPath[int], db: Db) -> ProductOut:
        return await service.set_vendor_status(db, request.user.vendor_id, product_id, ProductStatus.UNLISTED)

    @post("/{product_id:int}/skus", summary="Add a variant")
    async def add_sku(
        self, request: AuthedRequest, product_id: FromPath[int], data: JSONBody[SkuIn], db: Db
    ) -> ProductOut:
        return await service.add_sku(db, request.user.vendor_id, request.user.id, product_id, data)

    @patch("/{product_id:int}/skus/{sku_id:int}", summary="Change a variant's price, attributes or threshold")
    async def update_sku(
        self,
        request: AuthedRequest,
        product_id: FromPath[int],
        sku_id: FromPath[int],
        data: JSONBody[SkuPatch],
        db: Db,
    ) -> ProductOut:
        return await service.update_sku(db, request.user.vendor_id, product_id, sku_id, data)

    @post(
        "/{product_id:int}/images",
        summary="Upload an image (multipart field `file`; JPEG, PNG or WebP up to 5 MiB)",
        request_max_body_size=images.MAX_IMAGE_BYTES + 64 * 1024,
    )
    async def add_image(
        self,
        request: AuthedRequest,
        product_id: FromPath[int],
        data: MultipartBody[ImageUpload],
        db: Db,
        settings: AppSettings,
    ) -> ImageOut:
        content = await data.file.read()
        return await service.add_image(db, settings.data_dir, request.user.vendor_id, product_id, content)

    @delete("/{product_id:int}/images/{image_id:int}")
    async def delete_image(
        self, request: AuthedRequest, product_id: FromPath[int], image_id: FromPath[int], db: Db
    ) -> None:
        await service.delete_image(db, request.user.vendor_id, product_id, image_id)


@get("/images/{file_name:str}", exclude_from_auth=True, tags=["catalog"], summary="A product image")
async def image(file_name: ImageName, db: Db, settings: AppSettings) -> Response[bytes]:
    content_type = await service.image_content_type(db, file_name)
    path = images.image_dir(settings.data_dir) / file_name
    if content_type is None or not path.exists():
        raise NotFound("no such image")
    return Response(
        path.read_bytes(),
        media_type=content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
