"""Review rules: no review without a delivered purchase, one per buyer and product, one reply per review."""

from __future__ import annotations

import asyncpg

from marketplace.core.errors import Conflict, Forbidden, NotFound
from marketplace.core.paging import Page, fetch_page
from marketplace.reviews import queries as q
from marketplace.reviews.schemas import ReviewIn, ReviewOut, VendorReviewOut


def review_out(row: asyncpg.Record) -> ReviewOut:
    """The public view of a review row: everything but who wrote it."""
    return ReviewOut(**{k: row[k] for k in ReviewOut.__struct_fields__})


async def write(db: asyncpg.Pool, buyer_id: int, product_id: int, body: ReviewIn) -> ReviewOut:
    async with db.acquire() as conn, conn.transaction():
        vendor_id = await conn.fetchval(q.BOUGHT_AND_DELIVERED, product_id, buyer_id)
        if vendor_id is None:
            raise Forbidden("you can review a product once it has been delivered to you")
        try:
            async with conn.transaction():
                review_id = await conn.fetchval(
                    q.INSERT_REVIEW, product_id, vendor_id, buyer_id, body.rating, body.body
                )
        except asyncpg.UniqueViolationError:
            raise Conflict("you have already reviewed this product") from None
        await conn.execute(q.RATE_PRODUCT, product_id, body.rating)
        await conn.execute(q.RATE_VENDOR, vendor_id, body.rating)
        return review_out(await conn.fetchrow(q.GET_REVIEW, review_id))


async def of_product(db: asyncpg.Pool, product_id: int, cursor: int | None, limit: int) -> Page[ReviewOut]:
    return await fetch_page(db, q.PRODUCT_REVIEWS, product_id, cursor, limit=limit, convert=review_out)


async def of_vendor(db: asyncpg.Pool, vendor_id: int, cursor: int | None, limit: int) -> Page[VendorReviewOut]:
    """Every review of the shop's products, newest first, as the shop sees them (its vendor console)."""
    return await fetch_page(db, q.VENDOR_REVIEWS, vendor_id, cursor, limit=limit,
                            convert=lambda row: VendorReviewOut(**dict(row)))  # fmt: skip


async def reply(db: asyncpg.Pool, vendor_id: int, review_id: int, text: str) -> VendorReviewOut:
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.REPLY, review_id, vendor_id, text) is None:
            if await conn.fetchrow(q.REVIEW_OF_VENDOR, review_id, vendor_id) is None:
                raise NotFound("no such review of your products")
            raise Conflict("you have already replied to this review")
        return VendorReviewOut(**dict(await conn.fetchrow(q.GET_REVIEW, review_id)))
