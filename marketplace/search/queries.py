"""All SQL of search and product pages.

Search statements are assembled from the constant fragments below and in fragments.py (the visibility rules
and card columns, shared with the recommender), choosing which filters apply; user input only ever travels as
bind parameters."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from marketplace.core.db import contains_pattern
from marketplace.search import Sort
from marketplace.search.fragments import CARD_FIELDS, IN_STOCK, VISIBLE

FROM_VISIBLE = "FROM products p JOIN vendors v ON v.id = p.vendor_id"

TITLE_KEY = "p.title_key"

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

# Words of a query matched one by one; a longer query is cut there (it is rarely a product search).
MAX_WORDS = 8
# Shorter words are never taken for typos: one or two letters are close to half the catalogue's words.
MIN_TYPO_LENGTH = 3
# Scripts that full-text parsing does not split into words (Chinese, Japanese, Korean): their words are
# matched as substrings of the title.
UNSPACED_SCRIPT = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Sorts that need the ranking columns of a product beyond its id.
SCORED_COLUMNS = "p.id, p.min_price, p.max_price, p.created_at, p.sold_count, p.rating_avg, p.rating_count"

# Card columns (fragments.py) are computed for the page's rows only, after sorting and limiting the matches.
CARD_COLUMNS = CARD_FIELDS + ", hit.total"


class Filters:
    """Collects WHERE fragments and their bind parameters."""

    def __init__(self) -> None:
        self.conditions: list[str] = [VISIBLE]
        self.args: list[Any] = []
        self.order_score = "0::float4"
        self.query = ""
        self.words: list[str] = []  # the query's words, when it has several
        self.bound: list[str] = []  # their parameters
        self.substrings: dict[str, str] = {}  # a word in a script without spaces: its bound LIKE pattern

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def text(self, query: str) -> None:
        self.query = query
        lowered = query.lower()
        # Full text for words and stems, trigram word similarity for typos, substring for scripts
        # that full-text parsing does not split into words (Chinese, Japanese, ...).
        # One index per way of matching, each asked on its own: an OR across them lets the planner fall
        # back to checking every row's trigram similarity, which is a hundred times slower.
        words, excluded = query_words(query)
        if excluded:  # "-word", as in web search: nothing that has it, however else it matched
            unwanted = self.bind(" or ".join(excluded))
            self.conditions.append(f"NOT p.search @@ websearch_to_tsquery('english', immutable_unaccent({unwanted}))")
        if len(words) < 2:
            tsquery = f"websearch_to_tsquery('english', immutable_unaccent({self.bind(query)}))"
            needle = f"lower(immutable_unaccent({self.bind(lowered)}))"
            pattern = self.bind(contains_pattern(lowered))
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
            return
        # Several words: a product matching any of them is found, and each word is checked on its own so
        # that products matching all of them come first (see `_ranked_page_sql`). A word matches by its
        # stem, or written together with the word beside it ("smart phone" finds "Smartphone"); a word no
        # listed product has (a typo) matches titles with a word close to it; a word in a script without
        # spaces matches as a substring; a stop word matches anything.
        # The words travel as one OR query and one array, so the planner estimates one condition per way
        # of matching, not one per word (estimating a trigram condition costs more than running it).
        joined = [a + b for a, b in pairwise(words)]
        self.bound = [self.bind(word) for word in words]
        any_word = " or ".join(w for w in words + joined if w != "or")
        branches = [
            f"SELECT id FROM products WHERE status = 'listed'"
            f" AND search @@ websearch_to_tsquery('english', immutable_unaccent({self.bind(any_word)}))",
            # An array of one parameter per word: the planner counts its elements even in a generic plan.
            f"SELECT t.id FROM unnest(ARRAY[{', '.join(self.bound)}]::text[]) AS w(word)"
            f" JOIN products t ON t.status = 'listed' AND lower(immutable_unaccent(w.word)) <% t.title_key"
            f" WHERE char_length(w.word) >= {MIN_TYPO_LENGTH} AND NOT EXISTS (SELECT 1 FROM products s"
            f" WHERE s.status = 'listed'"
            f" AND s.search @@ plainto_tsquery('english', immutable_unaccent(w.word)))",
        ]
        for word in words:
            if UNSPACED_SCRIPT.search(word):
                substring = f"lower(immutable_unaccent({self.bind(contains_pattern(word))}))"
                self.substrings[word] = substring
                branches.append(f"SELECT id FROM products WHERE status = 'listed' AND title_key LIKE {substring}")
        self.conditions.append(f"p.id IN ({' UNION '.join(branches)})")
        # Bound only by `page_sql`: facets and counts use the conditions alone, and a parameter no
        # statement uses has no type.
        self.words = words

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
        if self.words:
            return self._ranked_page_sql(sort, limit, offset)
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

    def _ranked_page_sql(self, sort: Sort, limit: int, offset: int) -> str:
        """A page of a several-word search: whatever the sort, products matching every word come before
        the others. Sorted by relevance, the others follow by the weight of the words they match: a word
        that most of the matches have (inverse document frequency over the matches) counts little, so
        for "wireless headphones" the headphones come before the wireless yoga mats; then the phrase and
        its proximity decide, then sales.

        What each word asks is computed once in `words` (a statement prepared once runs with a generic
        plan, where a function of a parameter would otherwise be computed again for every row)."""
        n = len(self.words)
        asks, matches = [], []
        pairs = [self.bind(a + b) for a, b in pairwise(self.words)]
        for i, word in enumerate(self.words):
            bound = self.bound[i]
            stem = f"plainto_tsquery('english', immutable_unaccent({bound}))"
            asks += [
                f"{stem} AS stem{i}",
                f"numnode({stem}) = 0 AS stop{i}",  # a stop word asks nothing
                f"lower(immutable_unaccent({bound})) AS key{i}",
                # Does any listed product have this word? If none does, it is a typo.
                f"NOT EXISTS (SELECT 1 FROM products WHERE status = 'listed' AND search @@ {stem}) AS typo{i}",
            ]
            match = [f"w.stop{i}", f"p.search @@ w.stem{i}"]
            if len(word) >= MIN_TYPO_LENGTH:
                match.append(f"(w.typo{i} AND w.key{i} <% {TITLE_KEY})")
            match += [f"p.search @@ w.pair{j}" for j in (i - 1, i) if 0 <= j < len(pairs)]
            if word in self.substrings:
                match.append(f"{TITLE_KEY} LIKE {self.substrings[word]}")
            matches.append(f"({' OR '.join(match)}) AS m{i}")
        asks += [f"plainto_tsquery('english', immutable_unaccent({b})) AS pair{j}" for j, b in enumerate(pairs)]
        counts = ", ".join(f"count(*) FILTER (WHERE m{i}) OVER () AS d{i}" for i in range(n))
        every = " AND ".join(f"p.m{i}" for i in range(n))
        if sort == Sort.RELEVANCE:
            # Among products matching the same words: the words close together and in order (cover
            # density, and the whole phrase), title over brand over description, then the title's similarity.
            text, lowered = self.bind(self.query), self.query.lower()
            asks += [
                f"websearch_to_tsquery('english', immutable_unaccent({text})) AS every_word",
                f"phraseto_tsquery('english', immutable_unaccent({text})) AS phrase",
                f"lower(immutable_unaccent({self.bind(lowered)})) AS needle",
                f"lower(immutable_unaccent({self.bind(contains_pattern(lowered))})) AS pattern",
            ]
            score = (
                f"ts_rank_cd(p.search, w.every_word) + CASE WHEN p.search @@ w.phrase THEN 1 ELSE 0 END"
                f" + word_similarity(w.needle, {TITLE_KEY}) + CASE WHEN {TITLE_KEY} LIKE w.pattern THEN 0.5 ELSE 0 END"
            )
            # The last word names the kind of product more often than not ("boilco kettle", "wireless
            # headphones"): it weighs twice as much as the others.
            weight = " + ".join(
                f"CASE WHEN p.m{i} THEN {2 if i == n - 1 else 1}"
                f" * ln(1 + (p.total - p.d{i} + 0.5)::float8 / (p.d{i} + 0.5)) ELSE 0 END"
                for i in range(n)
            )
            order = f"({every}) DESC, ({weight}) DESC, p.score DESC, p.sold_count DESC, p.id DESC"
        else:
            score = "0::float4"
            order = f"({every}) DESC, {ORDER_BY[sort]}"
        return f"""
WITH words AS MATERIALIZED (
    SELECT {", ".join(asks)}
), scored AS MATERIALIZED (
    SELECT {SCORED_COLUMNS}, {", ".join(matches)}, {score} AS score
    {FROM_VISIBLE} CROSS JOIN words w WHERE {self.where}
), counted AS (
    SELECT p.*, count(*) OVER () AS total, {counts} FROM scored p
), hit AS MATERIALIZED (
    SELECT p.id, p.total, row_number() OVER (ORDER BY {order}) AS rank
    FROM counted p
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


def query_words(text: str) -> tuple[list[str], list[str]]:
    """The distinct words of a query (the first MAX_WORDS), and those it excludes ("-word"): lower case,
    without quotes."""
    words: list[str] = []
    excluded: list[str] = []
    for raw in text.lower().split():
        word = raw.strip("\"'")
        unwanted = word.startswith("-")
        word = word.lstrip("-")
        if word and unwanted:
            excluded.append(word)
        elif word and word not in words:
            words.append(word)
    return words[:MAX_WORDS], excluded


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
