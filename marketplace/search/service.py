"""Search and product pages for buyers."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import msgspec

from marketplace.catalog.images import image_url
from marketplace.core.errors import NotFound
from marketplace.search import Sort
from marketplace.search import queries as q
from marketplace.search.schemas import (
    Breadcrumb,
    Facets,
    FacetValue,
    ProductCard,
    ProductPage,
    PublicImage,
    PublicSku,
    RatingSummary,
    SearchResult,
    VendorSummary,
)

MAX_OFFSET = 10_000


class SearchQuery:
    def __init__(
        self,
        text: str | None = None,
        category_id: int | None = None,
        min_price: int | None = None,
        max_price: int | None = None,
        brands: list[str] | None = None,
        vendor_id: int | None = None,
        attributes: dict[str, str] | None = None,
        in_stock: bool = False,
        sort: Sort | None = None,
        page: int = 1,
        page_size: int = 20,
        facets: bool = False,
    ) -> None:
        self.text = (text or "").strip() or None
        self.category_id = category_id
        self.min_price = min_price
        self.max_price = max_price
        self.brands = brands or []
        self.vendor_id = vendor_id
        self.attributes = attributes or {}
        self.in_stock = in_stock
        # Relevance means nothing without words; then best sellers come first.
        self.sort = sort or (Sort.RELEVANCE if self.text else Sort.BEST_SELLING)
        if self.sort == Sort.RELEVANCE and not self.text:
            self.sort = Sort.BEST_SELLING
        self.page = page
        self.page_size = page_size
        self.facets = facets

    def cache_key(self) -> str:
        """The same search, however its parameters were spelled or ordered, gives the same key."""
        canonical = msgspec.json.encode(
            [self.text and self.text.lower(), self.category_id, self.min_price, self.max_price,
             sorted(b.lower() for b in self.brands), self.vendor_id, sorted(self.attributes.items()),
             self.in_stock, self.sort, self.page, self.page_size, self.facets]
        )  # fmt: skip
        return "page:search:" + hashlib.sha256(canonical).hexdigest()[:32]

    def filters(self, fuzzy: bool = False) -> q.Filters:
        f = q.Filters(fuzzy)
        if self.text:
            f.text(self.text)
        if self.category_id is not None:
            f.category(self.category_id)
        f.price_range(self.min_price, self.max_price)
        if self.brands:
            f.brands(self.brands)
        if self.vendor_id is not None:
            f.vendor(self.vendor_id)
        if self.attributes:
            f.attributes(self.attributes)
        if self.in_stock:
            f.in_stock()
        return f


def card(row: asyncpg.Record) -> ProductCard:
    """A product card from a row of `fragments.CARD_FIELDS`, whose first columns are the card's fields in
    order (by position: a page builds twenty of these per request)."""
    image = row["image_file"]
    return ProductCard(*row[:13], image_url(image) if image else None, row["created_at"])


def _price_label(bucket: int, edges: list[int]) -> str:
    low = edges[bucket - 1] // 100 if bucket > 0 else 0
    if bucket >= len(edges):
        return f"{low} and over"
    return f"{low}-{edges[bucket] // 100}"


def price_bucket_range(bucket: int) -> tuple[int | None, int | None]:
    """The `min_price` and `max_price` filters (minor units) that narrow a search to a price facet's bucket."""
    edges = q.PRICE_EDGES
    bucket = max(0, min(bucket, len(edges)))
    return (edges[bucket - 1] if bucket > 0 else None), (edges[bucket] - 1 if bucket < len(edges) else None)


async def search(db: asyncpg.Pool, query: SearchQuery) -> SearchResult:
    offset = min((query.page - 1) * query.page_size, MAX_OFFSET)
    filters, rows, stats = await _matches(db, query, offset, fuzzy=False)
    if filters.typo_possible and stats["total"] < q.TYPO_FALLBACK_BELOW:
        # Too little found as typed: the word may be misspelt, so titles with a word close to it count too.
        filters, rows, stats = await _matches(db, query, offset, fuzzy=True)
    result = SearchResult([card(r) for r in rows], stats["total"], query.page, query.page_size)
    if query.facets:
        result.facets = _facets(stats["facets"] or [])
    return result


async def _matches(
    db: asyncpg.Pool, query: SearchQuery, offset: int, fuzzy: bool
) -> tuple[q.Filters, list[asyncpg.Record], dict[str, Any]]:
    """The page's rows, and the total and facets (when asked), in one statement while the page has rows."""
    filters = query.filters(fuzzy)
    rows = await db.fetch(filters.page_sql(query.sort, query.page_size, offset, query.facets), *filters.args)
    if rows or not offset:  # no rows on the first page: nothing matches
        first = rows[0] if rows else {}
        return filters, rows, {"total": first.get("total", 0), "facets": first.get("facets")}
    # Past the last page: the total still tells the client where the results end.
    alone = query.filters(fuzzy)
    row = await db.fetchrow(alone.stats_sql(query.facets), *alone.args)
    return filters, rows, {"total": row["total"], "facets": row.get("facets")}


def _facets(rows: list[list[Any]]) -> Facets:
    """Facets from `queries.FACETS` rows ([facet, value, label, count]), each facet in its order."""
    return Facets(
        categories=sorted(
            (FacetValue(value, label, n) for facet, value, label, n in rows if facet == "category"),
            key=lambda f: -f.count,
        ),
        brands=[FacetValue(value, label, n) for facet, value, label, n in rows if facet == "brand"],
        prices=sorted(
            (
                FacetValue(value, _price_label(int(value), q.PRICE_EDGES), n)
                for facet, value, _, n in rows
                if facet == "price" and value is not None
            ),
            key=lambda f: int(f.value),
        ),
    )


async def product_page(db: asyncpg.Pool, product_id: int) -> ProductPage:
    row = await db.fetchrow(q.PRODUCT_PAGE, product_id)
    if row is None:
        raise NotFound("no such product")
    skus = [
        PublicSku(s["id"], s["code"], s["attributes"], s["price"], s["available"], s["available"] > 0)
        for s in row["skus"]
    ]
    return ProductPage(
        id=row["id"],
        title=row["title"],
        brand=row["brand"],
        model=row["model"],
        description=row["description"],
        attributes=row["attributes"],
        currency=row["currency"],
        min_price=row["min_price"],
        max_price=row["max_price"],
        in_stock=any(s.in_stock for s in skus),
        sold_count=row["sold_count"],
        vendor=VendorSummary(row["vendor_id"], row["shop_name"]),
        rating=RatingSummary(row["rating_avg"], row["rating_count"]),
        categories=[Breadcrumb(c["id"], c["name"], c["slug"]) for c in row["categories"]],
        skus=skus,
        images=[PublicImage(image_url(i["file_name"]), i["width"], i["height"]) for i in row["images"]],
    )
