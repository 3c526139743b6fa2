"""All SQL of search and product pages.

Search statements are assembled from the constant fragments below, choosing which filters apply; user
input only ever travels as bind parameters."""

from __future__ import annotations

from typing import Any

from marketplace.core.db import contains_pattern
from marketplace.search import Sort

VISIBLE = "p.status = 'listed' AND v.status = 'active'"
FROM_VISIBLE = "FROM products p JOIN vendors v ON v.id = p.vendor_id"

TITLE_KEY = "p.title_key"
IN_STOCK = "EXISTS (SELECT 1 FROM skus s WHERE s.product_id = p.id AND s.available > 0)"

# Price facet edges in minor units: under 10, 10-25, 25-50, 50-100, 100-250, 250-500, 500 and over.
PRICE_EDGES = [1000, 2500, 5000, 10000, 25000, 50000]

ORDER_BY = {
    Sort.RELEVANCE: "{score} DESC, p.sold_count DESC, p.id DESC",
    Sort.PRICE_ASC: "p.min_price ASC, p.id ASC",
    Sort.PRICE_DESC: "p.max_price DESC, p.id DESC",
    Sort.NEWEST: "p.created_at DESC, p.id DESC",
    Sort.BEST_SELLING: "p.sold_count DESC, p.id DESC",
    Sort.RATING: "p.rating_avg DESC NULLS LAST, p.rating_count DESC, p.id DESC",
}

# Card columns are computed for the page's rows only, after sorting and limiting the matches.
CARD_FIELDS = f"""p.id, p.title, p.brand, p.vendor_id, v.shop_name AS vendor_name, p.category_id, p.currency,
p.min_price, p.max_price, {IN_STOCK} AS in_stock, p.sold_count, p.rating_avg::float8 AS rating_avg,
p.rating_count, p.created_at,
(SELECT i.file_name FROM product_images i WHERE i.product_id = p.id ORDER BY i.position, i.id LIMIT 1)
    AS image_file"""
CARD_COLUMNS = CARD_FIELDS + ", hit.total"


class Filters:
    """Collects WHERE fragments and their bind parameters."""

    def __init__(self) -> None:
        self.conditions: list[str] = [VISIBLE]
        self.args: list[Any] = []
        self.order_score = "0::float4"

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def text(self, query: str) -> None:
        lowered = query.lower()
        tsquery = f"websearch_to_tsquery('english', immutable_unaccent({self.bind(query)}))"
        needle = f"lower(immutable_unaccent({self.bind(lowered)}))"
        pattern = self.bind(contains_pattern(lowered))
        # Full text for words and stems, trigram word similarity for typos, substring for scripts
        # that full-text parsing does not split into words (Chinese, Japanese, ...).
        # One index per way of matching, each asked on its own: an OR across them lets the planner fall
        # back to checking every row's trigram similarity, which is a hundred times slower.
        self.conditions.append(
            f"p.id IN (SELECT id FROM products WHERE status = 'listed' AND search @@ {tsquery}"
            f" UNION SELECT id FROM products WHERE status = 'listed'"
            f" AND title_key LIKE lower(immutable_unaccent({pattern}))"
            f" UNION SELECT id FROM products WHERE status = 'listed' AND {needle} <% title_key)"
        )
        self.order_score = (
            f"(ts_rank_cd(p.search, {tsquery}) + word_similarity({needle}, {TITLE_KEY})"
            f" + CASE WHEN {TITLE_KEY} LIKE lower(immutable_unaccent({pattern})) THEN 0.5 ELSE 0 END)"
        )

    def category(self, category_id: int) -> None:
        self.conditions.append(
            f"p.category_id IN (SELECT id FROM categories WHERE path @> ARRAY[{self.bind(category_id)}::bigint])"
        )

    def price_range(self, low: int | None, high: int | None) -> None:
        if low is not None:
            self.conditions.append(f"p.max_price >= {self.bind(low)}")
        if high is not None:
            self.conditions.append(f"p.min_price <= {self.bind(high)}")

    def brands(self, brands: list[str]) -> None:
        self.conditions.append(f"lower(p.brand) = ANY({self.bind([b.lower() for b in brands])}::text[])")

    def vendor(self, vendor_id: int) -> None:
        self.conditions.append(f"p.vendor_id = {self.bind(vendor_id)}")

    def attributes(self, attrs: dict[str, str]) -> None:
        wanted = self.bind(attrs)
        self.conditions.append(
            f"(p.attributes @> {wanted} OR EXISTS (SELECT 1 FROM skus s WHERE s.product_id = p.id"
            f" AND s.attributes @> {wanted}))"
        )

    def in_stock(self) -> None:
        self.conditions.append(IN_STOCK)

    @property
    def where(self) -> str:
        return " AND ".join(self.conditions)

    def page_sql(self, sort: Sort, limit: int, offset: int) -> str:
        order = ORDER_BY[sort].format(score=self.order_score)
        return f"""
WITH hit AS MATERIALIZED (
    SELECT p.id, count(*) OVER () AS total, row_number() OVER (ORDER BY {order}) AS rank
    {FROM_VISIBLE} WHERE {self.where}
    ORDER BY {order}
    LIMIT {self.bind(limit)} OFFSET {self.bind(offset)}
)
SELECT {CARD_COLUMNS}
FROM hit JOIN products p ON p.id = hit.id JOIN vendors v ON v.id = p.vendor_id
ORDER BY hit.rank
"""

    def facets_sql(self, category_depth: int) -> str:
        """Counts per sub-category (one level below the filtered category), brand and price band."""
        return f"""
WITH hits AS (SELECT p.category_id, p.brand, p.min_price {FROM_VISIBLE} WHERE {self.where})
SELECT 'category' AS facet, c.path[{self.bind(category_depth + 1)}]::text AS value, count(*) AS n
FROM hits JOIN categories c ON c.id = hits.category_id
WHERE cardinality(c.path) > {self.bind(category_depth)}
GROUP BY 2
UNION ALL
(SELECT 'brand', brand, count(*) FROM hits WHERE brand <> '' GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT 20)
UNION ALL
SELECT 'price', width_bucket(min_price, {self.bind(PRICE_EDGES)}::bigint[])::text, count(*) FROM hits GROUP BY 2
"""


CATEGORY_DEPTH = "SELECT cardinality(path) FROM categories WHERE id = $1"
CATEGORY_NAMES = "SELECT id, name FROM categories WHERE id = ANY($1)"

# One round trip for the whole page: the product with its SKUs, images and category path as JSON.
PRODUCT_PAGE = f"""
SELECT p.id, p.title, p.brand, p.model, p.description, p.attributes, p.currency, p.min_price, p.max_price,
       p.sold_count, p.rating_avg::float8 AS rating_avg, p.rating_count, p.vendor_id, v.shop_name,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'code', s.code, 'attributes', s.attributes,
                                                     'price', s.price, 'available', s.available) ORDER BY s.id),
                        '[]')
        FROM skus s WHERE s.product_id = p.id) AS skus,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('file_name', i.file_name, 'width', i.width,
                                                     'height', i.height) ORDER BY i.position, i.id), '[]')
        FROM product_images i WHERE i.product_id = p.id) AS images,
       (SELECT jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name, 'slug', c.slug) ORDER BY a.depth)
        FROM categories leaf, unnest(leaf.path) WITH ORDINALITY AS a(id, depth) JOIN categories c ON c.id = a.id
        WHERE leaf.id = p.category_id) AS categories
{FROM_VISIBLE}
WHERE p.id = $1 AND {VISIBLE}
"""
