"""Catalog rules: the category tree, a vendor's own products and SKUs, images, and admin take-downs. A product's
status is written in one place (`_set_status`), which asks the catalog's state machine first."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from marketplace.catalog import TRANSITIONS, ProductStatus, images
from marketplace.catalog import queries as q
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
    SkuOut,
    SkuPatch,
)
from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from marketplace.core.events import append_event
from marketplace.core.paging import Page, fetch_page
from marketplace.core.states import Actor
from marketplace.core.types import set_fields
from marketplace.inventory.service import record_initial_stock
from marketplace.risk import service as risk
from marketplace.settings import Settings

MAX_IMAGES_PER_PRODUCT = 12


# Categories


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "category"


async def category_tree(db: asyncpg.Pool) -> list[CategoryNode]:
    rows = await db.fetch(q.ALL_CATEGORIES)
    nodes = {r["id"]: CategoryNode(r["id"], r["name"], r["slug"], []) for r in rows}
    roots: list[CategoryNode] = []
    for r in rows:
        (nodes[r["parent_id"]].children if r["parent_id"] else roots).append(nodes[r["id"]])
    return roots


async def create_category(db: asyncpg.Pool, admin_id: int, body: CategoryIn) -> CategoryOut:
    async with db.acquire() as conn, conn.transaction():
        if body.parent_id is not None and not await conn.fetchrow(q.GET_CATEGORY, body.parent_id):
            raise Unprocessable("no such parent category", field="parent_id")
        try:
            row = await conn.fetchrow(
                q.INSERT_CATEGORY, body.parent_id, body.name, body.slug or slugify(body.name), body.position
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("a category with this slug exists; choose another slug", field="slug") from None
        row = await conn.fetchrow(q.APPEND_OWN_ID_TO_PATH, row["id"])
        category = CategoryOut(**dict(row))
        await record_audit(conn, admin_id, "category.created", "category", category.id, None, category)
    return category


async def update_category(db: asyncpg.Pool, admin_id: int, category_id: int, body: CategoryPatch) -> CategoryOut:
    fields = set_fields(body)
    if not fields:
        raise BadRequest("nothing to change")
    async with db.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(q.GET_CATEGORY, category_id)
        if before is None:
            raise NotFound("no such category")
        row = await conn.fetchrow(q.UPDATE_CATEGORY, category_id, fields.get("name"), fields.get("position"))
        await record_audit(conn, admin_id, "category.updated", "category", category_id, dict(before), dict(row))
    return CategoryOut(**dict(row))


async def delete_category(db: asyncpg.Pool, admin_id: int, category_id: int) -> None:
    async with db.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(q.GET_CATEGORY, category_id)
        if before is None:
            raise NotFound("no such category")
        if await conn.fetchval(q.CATEGORY_IN_USE, category_id):
            raise Conflict("this category still has sub-categories or products")
        await conn.execute(q.DELETE_CATEGORY, category_id)
        await record_audit(conn, admin_id, "category.deleted", "category", category_id, dict(before), None)


# Products


def _sku(row: asyncpg.Record) -> SkuOut:
    return SkuOut(**{k: row[k] for k in SkuOut.__struct_fields__})


def _image(row: asyncpg.Record) -> ImageOut:
    return ImageOut(row["id"], images.image_url(row["file_name"]), row["content_type"], row["width"], row["height"])


async def _products_out(conn: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]) -> list[ProductOut]:
    ids = [r["id"] for r in rows]
    skus: dict[int, list[SkuOut]] = defaultdict(list)
    pictures: dict[int, list[ImageOut]] = defaultdict(list)
    for s in await conn.fetch(q.SKUS_OF_PRODUCTS, ids):
        skus[s["product_id"]].append(_sku(s))
    for i in await conn.fetch(q.IMAGES_OF_PRODUCTS, ids):
        pictures[i["product_id"]].append(_image(i))
    return [ProductOut(**dict(r), skus=skus[r["id"]], images=pictures[r["id"]]) for r in rows]


async def _product_out(conn: asyncpg.Connection | asyncpg.Pool, product_id: int) -> ProductOut:
    return (await _products_out(conn, [await conn.fetchrow(q.GET_PRODUCT, product_id)]))[0]


async def _check_category(conn: asyncpg.Connection, category_id: int) -> None:
    if not await conn.fetchrow(q.GET_CATEGORY, category_id):
        raise Unprocessable("no such category", field="category_id")


async def _own_product(conn: asyncpg.Connection, vendor_id: int, product_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(q.OWN_PRODUCT_FOR_UPDATE, product_id, vendor_id)
    if row is None:
        raise NotFound("no such product in your shop")
    return row


async def _insert_sku(conn: asyncpg.Connection, product_id: int, sku: SkuIn, actor_id: int) -> None:
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                q.INSERT_SKU,
                product_id,
                sku.code,
                sku.attributes,
                sku.price,
                sku.stock,
                sku.low_stock_threshold,
            )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"SKU code {sku.code!r} is used twice in this product", field="skus") from None
    if sku.stock:
        await record_initial_stock(conn, product_id, row["id"], sku.stock, actor_id)


async def create_product(db: asyncpg.Pool, vendor_id: int, actor_id: int, body: ProductIn) -> ProductOut:
    async with db.acquire() as conn, conn.transaction():
        await _check_category(conn, body.category_id)
        product_id = await conn.fetchval(
            q.INSERT_PRODUCT,
            vendor_id,
            body.category_id,
            body.title,
            body.brand,
            body.model,
            body.description,
            body.attributes,
            body.currency,
        )
        for sku in body.skus:
            await _insert_sku(conn, product_id, sku, actor_id)
        await conn.execute(q.REFRESH_PRICE_RANGE, product_id)
        return await _product_out(conn, product_id)


async def vendor_products(
    db: asyncpg.Pool, vendor_id: int, status: ProductStatus | None, cursor: int | None, limit: int
) -> Page[ProductOut]:
    rows = await fetch_page(db, q.LIST_VENDOR_PRODUCTS, vendor_id, status, cursor, limit=limit)
    return Page(await _products_out(db, rows.items), rows.next_cursor)


async def vendor_product(db: asyncpg.Pool, vendor_id: int, product_id: int) -> ProductOut:
    row = await db.fetchrow(q.GET_PRODUCT, product_id)
    if row is None or row["vendor_id"] != vendor_id:
        raise NotFound("no such product in your shop")
    return (await _products_out(db, [row]))[0]


async def update_product(db: asyncpg.Pool, vendor_id: int, product_id: int, body: ProductPatch) -> ProductOut:
    fields = set_fields(body)
    if not fields:
        raise BadRequest("nothing to change")
    async with db.acquire() as conn, conn.transaction():
        await _own_product(conn, vendor_id, product_id)
        if "category_id" in fields:
            await _check_category(conn, fields["category_id"])
        await conn.execute(
            q.UPDATE_PRODUCT,
            product_id,
            *(fields.get(k) for k in ("category_id", "title", "brand", "model", "description", "attributes")),
        )
        return await _product_out(conn, product_id)


async def _set_status(
    conn: asyncpg.Connection, row: asyncpg.Record, target: ProductStatus, actor: Actor, reason: str | None = None
) -> None:
    """The one write of a product's status (`row`, locked), once TRANSITIONS allows `actor` the move."""
    current = ProductStatus(row["status"])
    if not TRANSITIONS.allows(current, target, actor):
        if actor == Actor.VENDOR and current == ProductStatus.TAKEN_DOWN:
            raise Conflict("this product was taken down by the marketplace; contact support")
        if actor == Actor.ADMIN:
            refusal = "already taken down" if target == ProductStatus.TAKEN_DOWN else "this product is not taken down"
            raise Conflict(refusal)
        TRANSITIONS.check(current, target, actor)
    await conn.execute(q.SET_PRODUCT_STATUS, row["id"], target, reason)
    await append_event(conn, topics.product(row["id"]), "product.status_changed", {"status": target})


async def set_vendor_status(
    db: asyncpg.Pool, vendor_id: int, product_id: int, target: ProductStatus, review: ListingReview | None = None
) -> ProductOut:
    """The vendor lists or unlists a product; under `review` (LISTING_REVIEW) a draft of a new or flagged shop
    goes to pending_review instead of listed, for support to approve."""
    async with db.acquire() as conn, conn.transaction():
        row = await _own_product(conn, vendor_id, product_id)
        if target == ProductStatus.LISTED and row["status"] == ProductStatus.DRAFT and review is not None:
            why = await risk.listing_review_reason(conn, review.mode, review.new_shop_days, vendor_id)
            target = ProductStatus.PENDING_REVIEW if why else target
        await _set_status(conn, row, target, Actor.VENDOR)
        return await _product_out(conn, product_id)


@dataclass(frozen=True)
class ListingReview:
    mode: str  # settings.listing_review: off, new_or_flagged, all
    new_shop_days: int

    @classmethod
    def of(cls, settings: Settings) -> ListingReview:
        return cls(settings.listing_review, settings.listing_review_new_shop_days)


async def listings_to_review(db: asyncpg.Pool, cursor: int | None, limit: int) -> Page[ProductOut]:
    """Products waiting for review, oldest first."""
    rows = await fetch_page(db, q.LIST_PENDING_REVIEW, cursor, limit=limit)
    return Page(await _products_out(db, rows.items), rows.next_cursor)


async def review_listing(
    db: asyncpg.Pool, staff_id: int, product_id: int, approve: bool, reason: str | None
) -> ProductOut:
    """Support or an admin approves a pending product (→ listed) or rejects it with a reason (→ draft, the
    reason shown to the vendor as the product's status reason); audit-logged."""
    target = ProductStatus.LISTED if approve else ProductStatus.DRAFT
    async with db.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(q.PRODUCT_FOR_UPDATE, product_id)
        if before is None:
            raise NotFound("no such product")
        if before["status"] != ProductStatus.PENDING_REVIEW:
            raise Conflict("this product is not waiting for review", current_status=before["status"])
        await _set_status(conn, before, target, Actor.ADMIN, None if approve else reason)
        action = "product.review_approved" if approve else "product.review_rejected"
        after = {"status": target, "reason": reason}
        await record_audit(conn, staff_id, action, "product", product_id, {"status": before["status"]}, after)
        return await _product_out(conn, product_id)


async def add_sku(db: asyncpg.Pool, vendor_id: int, actor_id: int, product_id: int, body: SkuIn) -> ProductOut:
    async with db.acquire() as conn, conn.transaction():
        await _own_product(conn, vendor_id, product_id)
        await _insert_sku(conn, product_id, body, actor_id)
        await conn.execute(q.REFRESH_PRICE_RANGE, product_id)
        return await _product_out(conn, product_id)


async def update_sku(db: asyncpg.Pool, vendor_id: int, product_id: int, sku_id: int, body: SkuPatch) -> ProductOut:
    fields = set_fields(body)
    if not fields:
        raise BadRequest("nothing to change")
    async with db.acquire() as conn, conn.transaction():
        await _own_product(conn, vendor_id, product_id)
        before = await conn.fetchrow(q.SKU_OF_PRODUCT_FOR_UPDATE, sku_id, product_id)
        if before is None:
            raise NotFound("no such SKU in this product")
        after = await conn.fetchrow(
            q.UPDATE_SKU,
            sku_id,
            fields.get("price"),
            fields.get("attributes"),
            fields.get("low_stock_threshold"),
        )
        if after["price"] != before["price"]:
            await conn.execute(q.REFRESH_PRICE_RANGE, product_id)
            await append_event(
                conn,
                topics.product(product_id),
                "price.changed",
                {"sku_id": sku_id, "old_price": before["price"], "price": after["price"]},
            )
        return await _product_out(conn, product_id)


async def add_image(db: asyncpg.Pool, data_dir: Path, vendor_id: int, product_id: int, data: bytes) -> ImageOut:
    image = await images.check_image(data)
    async with db.acquire() as conn, conn.transaction():
        await _own_product(conn, vendor_id, product_id)
        count = await conn.fetchval(q.COUNT_IMAGES, product_id)
        if count >= MAX_IMAGES_PER_PRODUCT:
            raise Unprocessable(f"at most {MAX_IMAGES_PER_PRODUCT} images per product")
        # The file is written before the row commits; a crash in between leaves an unreferenced file,
        # never a row pointing at nothing.
        await images.store(data_dir, image)
        row = await conn.fetchrow(
            q.INSERT_IMAGE,
            product_id,
            image.file_name,
            image.content_type,
            image.width,
            image.height,
            len(image.data),
            count,
        )
    return _image(row)


async def delete_image(db: asyncpg.Pool, vendor_id: int, product_id: int, image_id: int) -> None:
    async with db.acquire() as conn, conn.transaction():
        await _own_product(conn, vendor_id, product_id)
        if await conn.fetchval(q.DELETE_IMAGE, image_id, product_id) is None:
            raise NotFound("no such image on this product")


async def image_content_type(db: asyncpg.Pool, file_name: str) -> str | None:
    return await db.fetchval(q.IMAGE_BY_FILE, file_name)


# Admin moderation


async def take_down(db: asyncpg.Pool, admin_id: int, product_id: int, reason: str | None) -> ProductOut:
    """Take a product down (reason given) or, with no reason, restore a taken-down one as unlisted."""
    target = ProductStatus.TAKEN_DOWN if reason else ProductStatus.UNLISTED
    async with db.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(q.PRODUCT_FOR_UPDATE, product_id)
        if before is None:
            raise NotFound("no such product")
        await _set_status(conn, before, target, Actor.ADMIN, reason)
        action = "product.taken_down" if reason else "product.restored"
        await record_audit(
            conn,
            admin_id,
            action,
            "product",
            product_id,
            {"status": before["status"]},
            {"status": target, "reason": reason},
        )
        return await _product_out(conn, product_id)


async def admin_product(db: asyncpg.Pool, product_id: int) -> ProductOut:
    row = await db.fetchrow(q.GET_PRODUCT, product_id)
    if row is None:
        raise NotFound("no such product")
    return (await _products_out(db, [row]))[0]
