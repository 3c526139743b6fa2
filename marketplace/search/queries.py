"""All SQL of search and product pages.

Search statements are assembled from the constant fragments below and in fragments.py (the visibility rules
and card columns, shared with the recommender), choosing which filters apply; user input only ever travels as
bind parameters.

Everything a statement takes from the request (tsqueries and patterns of the text, the words close to a typo,
the filters' values, the page's bounds) is computed once, in a one-row `words` CTE joined to the rows. In a
generic plan a function of a parameter written inline would be computed again for every row; and as no plan
knows any value, a custom plan is no better than the generic one, so PostgreSQL settles on the generic plan
after five executions instead of planning each call (planning these statements cost as much as running them)."""

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
PRICE_EDGES_SQL = "'{" + ",".join(map(str, PRICE_EDGES)) + "}'::bigint[]"  # a constant of ours, not input

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
# A one-word search whose exact matches (the word's stem, or a substring of the title) are fewer than this is
# run again taking titles with a word close to it (a typo). With more, the word was no typo and the close
# titles are noise ("boots" would bring books) that cost a trigram comparison with every title that has one.
TYPO_FALLBACK_BELOW = 5
# Scripts that full-text parsing does not split into words (Chinese, Japanese, Korean): their words are
# matched as substrings of the title.
UNSPACED_SCRIPT = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# The same in SQL, as the partial index products_listed_unspaced (migration 0018) says it: a substring shorter
# than a trigram is looked for among those titles only.
UNSPACED_TITLE = r"p.title_key ~ '[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]'"
# A typo matches the products with one of the title words closest to it (search_words, migration 0018).
CLOSE_WORDS = 32
# What sorting, ranking and facets need of a matching product beyond its id.
SCORED_COLUMNS = (
    "p.id, p.category_id, p.brand, p.min_price, p.max_price, p.created_at, p.sold_count, p.rating_avg, p.rating_count"
)

# The columns the sorts other than relevance order by.
ORDER_COLUMNS = ["p.min_price", "p.max_price", "p.created_at", "p.rating_avg", "p.rating_count"]

# No page is longer (the API's largest page_size): a bound the planner can see (`Filters._hit`).
PAGE_BOUND = 100

# Card columns (fragments.py) are computed for the page's rows only, after sorting and limiting the matches.
CARD_COLUMNS = CARD_FIELDS + ", hit.total"

# Counts per sub-category (one level below the filtered category, `w.depth`), brand (the 20 commonest) and
# price band, over the matches in `matched`: the search runs once for the page and its facets.
FACETS = f"""facet AS (
    SELECT 'category' AS facet, c.id::text AS value, c.name AS label, count(*) AS n, 0::bigint AS pos
    FROM matched m JOIN categories leaf ON leaf.id = m.category_id CROSS JOIN words w
    JOIN categories c ON c.id = leaf.path[w.depth + 1]
    GROUP BY c.id, c.name
    UNION ALL
    SELECT 'brand', brand, brand, n, pos FROM (
        SELECT brand, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, brand) AS pos
        FROM matched WHERE brand <> '' GROUP BY brand
    ) b WHERE pos <= 20
    UNION ALL
    SELECT 'price', width_bucket(min_price, {PRICE_EDGES_SQL})::text, NULL, count(*), 0 FROM matched GROUP BY 2
)"""
FACETS_JSON = (
    "(SELECT coalesce(jsonb_agg(jsonb_build_array(facet, value, label, n) ORDER BY facet, pos, n DESC, value),"
    " '[]') FROM facet)"
)


class Filters:
    """Collects WHERE fragments and their bind parameters; one instance builds one statement. `fuzzy`: a
    one-word search also takes titles with a word close to it (`service.search` asks for it when the word
    as typed finds too little)."""

    def __init__(self, fuzzy: bool = False) -> None:
        self.conditions: list[str] = [VISIBLE]
        self.args: list[Any] = []
        self.asks: list[str] = []  # the `words` CTE's columns: `expression AS name`
        self.fuzzy = fuzzy
        self.typo_possible = False  # one word, long enough to be a typo
        self.order_score = "0::float4"
        self.words: list[str] = []  # the query's words, when it has several
        self.matches: list[str] = []  # for each of them, when a product matches it
        self.category_param: str | None = None
        self.rows_read_words = False  # conditions or scores read `w`: join it to the rows
        self.page_bound = PAGE_BOUND

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def ask(self, expression: str, name: str) -> None:
        self.asks.append(f"{expression} AS {name}")

    def text(self, query: str) -> None:
        # Full text for words and stems, substring for scripts that full-text parsing does not split into
        # words (Chinese, Japanese, ...), title words close to a typo. Each way of matching has its
        # index, and the planner reads them together (a BitmapOr) only because the values they look for
        # come from `words`: an inline function of a parameter would be checked row by row.
        self.rows_read_words = True
        lowered = query.lower()
        words, excluded = query_words(query)
        if excluded:  # "-word", as in web search: nothing that has it, however else it matched
            self.ask(f"websearch_to_tsquery('english', immutable_unaccent({self.bind(' or '.join(excluded))}))",
                     "unwanted")  # fmt: skip
            self.conditions.append("NOT p.search @@ w.unwanted")
        text, pattern = self.bind(query), self.bind(contains_pattern(lowered))
        self.ask(f"websearch_to_tsquery('english', immutable_unaccent({text}))", "query")
        self.ask(f"lower(immutable_unaccent({pattern}))", "pattern")
        needle = f"lower(immutable_unaccent({self.bind(lowered)}))"
        self.ask(needle, "needle")
        bonus = f"CASE WHEN {TITLE_KEY} LIKE w.pattern THEN 0.5 ELSE 0 END"
        if len(words) >= 2:
            self._several_words(words, text, bonus)
            return
        found = ["p.search @@ w.query", _substring(query.strip(), "w.pattern")]
        self.typo_possible = bool(words) and len(words[0]) >= MIN_TYPO_LENGTH
        if self.fuzzy and self.typo_possible:
            self._ask_close(needle, "close")
            found.append("p.search @@ w.close")
            self.order_score = f"(ts_rank_cd(p.search, w.query) + word_similarity(w.needle, {TITLE_KEY}) + {bonus})"
        else:
            # Among exact matches the title's similarity to the word ordered nothing the rank and the
            # substring do not (the same first pages on a hundred demo words) and cost most of the statement.
            self.order_score = f"(ts_rank_cd(p.search, w.query) + {bonus})"
        self.conditions.append(f"({' OR '.join(found)})")

    def _ask_close(self, key: str, name: str, unless: str = "") -> None:
        """A query for the titles with a word close to `key` (a typo), as the trigram similarity of the whole
        title found them, at the cost of comparing a few hundred words; with `unless` (a tsquery), only if no
        listed product has that (else NULL, which matches nothing)."""
        close = (
            f"SELECT word FROM search_words WHERE word %> {key}"
            f" ORDER BY word_similarity({key}, word) DESC, word LIMIT {CLOSE_WORDS}"
        )
        query = f"(SELECT to_tsquery('english', string_agg(quote_literal(c.word) || ':A', ' | ')) FROM ({close}) c)"
        if unless:
            listed = f"SELECT FROM products WHERE status = 'listed' AND search @@ {unless}"
            query = f"CASE WHEN NOT EXISTS ({listed}) THEN {query} END"
        self.ask(query, name)

    def _several_words(self, words: list[str], text: str, bonus: str) -> None:
        """A product matching any of the words is found, and each word is checked on its own so that products
        matching all of them come first (`_ranked_page_sql`). A word matches by its stem, or written together
        with the word beside it ("smart phone" finds "Smartphone"); a word in a script without spaces as a
        substring; a word no listed product has (a typo) by titles with a word close to it; a stop word
        matches anything."""
        self.words = words
        joined = [a + b for a, b in pairwise(words)]
        any_word = self.bind(" or ".join(w for w in words + joined if w != "or"))
        self.ask(f"websearch_to_tsquery('english', immutable_unaccent({any_word}))", "any_word")
        found, typos = ["p.search @@ w.any_word"], []
        for j, pair in enumerate(joined):
            self.ask(f"plainto_tsquery('english', immutable_unaccent({self.bind(pair)}))", f"pair{j}")
        for i, word in enumerate(words):
            bound = self.bind(word)
            stem = f"plainto_tsquery('english', immutable_unaccent({bound}))"
            self.ask(stem, f"stem{i}")
            self.ask(f"numnode({stem}) = 0", f"stop{i}")
            match = [f"w.stop{i}", f"p.search @@ w.stem{i}"]
            match += [f"p.search @@ w.pair{j}" for j in (i - 1, i) if 0 <= j < len(joined)]
            if UNSPACED_SCRIPT.search(word):
                self.ask(f"lower(immutable_unaccent({self.bind(contains_pattern(word))}))", f"sub{i}")
                match.append(_substring(word, f"w.sub{i}"))
                found.append(match[-1])
            if len(word) >= MIN_TYPO_LENGTH:
                self._ask_close(f"lower(immutable_unaccent({bound}))", f"close{i}", unless=stem)
                found.append(f"p.search @@ w.close{i}")
                match.append(f"coalesce(p.search @@ w.close{i}, false)")  # NULL: not a typo
                typos.append(f"w.close{i} IS NOT NULL")
            self.matches.append(" OR ".join(match))
        self.ask(f"phraseto_tsquery('english', immutable_unaccent({text}))", "phrase")
        # Among products matching the same words: the words close together and in order (cover density, and
        # the whole phrase), title over brand over description, then a substring of the title; with a typo,
        # the title's similarity to what was typed too (nothing else tells the close titles apart). Without
        # one that similarity changed only the order of products as relevant as each other, at the price of
        # half the statement.
        similar = f" + CASE WHEN {' OR '.join(typos)} THEN word_similarity(w.needle, {TITLE_KEY}) ELSE 0 END"
        self.order_score = (
            f"ts_rank_cd(p.search, w.query) + CASE WHEN p.search @@ w.phrase THEN 1 ELSE 0 END"
            f"{similar if typos else ''} + {bonus}"
        )
        self.conditions.append(f"({' OR '.join(found)})")

    def param(self, value: Any, cast: str, name: str) -> str:
        """`value` as the column `name` of `words`: no plan knows it, so a custom plan is no better than the
        generic one, and after a few executions PostgreSQL stops planning the statement again."""
        self.ask(f"{self.bind(value)}::{cast}", name)
        self.rows_read_words = True
        return f"w.{name}"

    def category(self, category_id: int) -> None:
        self.category_param = self.bind(category_id)
        self.ask(f"{self.category_param}::bigint", "category")
        self.conditions.append(
            "p.category_id IN (SELECT c.id FROM categories c, words f WHERE c.path @> ARRAY[f.category])"
        )

    def price_range(self, low: int | None, high: int | None) -> None:
        if low is not None:
            self.conditions.append(f"p.max_price >= {self.param(low, 'bigint', 'low')}")
        if high is not None:
            self.conditions.append(f"p.min_price <= {self.param(high, 'bigint', 'high')}")

    def brands(self, brands: list[str]) -> None:
        self.conditions.append(f"lower(p.brand) = ANY({self.param([b.lower() for b in brands], 'text[]', 'brands')})")

    def vendor(self, vendor_id: int) -> None:
        self.conditions.append(f"p.vendor_id = {self.param(vendor_id, 'bigint', 'vendor')}")

    def attributes(self, attrs: dict[str, str]) -> None:
        wanted = self.param(attrs, "jsonb", "attrs")
        self.conditions.append(
            f"(p.attributes @> {wanted} OR EXISTS (SELECT 1 FROM skus s WHERE s.product_id = p.id"
            f" AND s.attributes @> {wanted}))"
        )

    def in_stock(self) -> None:
        self.conditions.append(IN_STOCK)

    @property
    def where(self) -> str:
        return " AND ".join(self.conditions)

    def _with(self, *ctes: str) -> str:
        return "WITH " + ",\n".join([f"words AS MATERIALIZED (SELECT {', '.join(self.asks or ['1 AS one'])})", *ctes])

    def _matched(self, *columns: str, keep: bool = True) -> str:
        """The matches with what sorting, ranking and facets need of them, each word's match among several;
        kept (materialised) when more than one part of the statement reads them."""
        words = [f"{m} AS m{i}" for i, m in enumerate(self.matches)]
        kept = "MATERIALIZED " if keep else ""
        return f"matched AS {kept}(SELECT {', '.join([SCORED_COLUMNS, *columns, *words])} {self.source})"

    @property
    def source(self) -> str:
        # Joined only when read: the join costs every row something, noticeable when browsing all of them.
        words = " CROSS JOIN words w" if self.rows_read_words else ""
        return f"{FROM_VISIBLE}{words} WHERE {self.where}"

    def _ask_depth(self) -> None:
        """The filtered category's depth, for the facets' sub-categories one level below it."""
        depth = "0"
        if self.category_param is not None:
            depth = f"coalesce((SELECT cardinality(path) FROM categories WHERE id = {self.category_param}), 0)"
        self.ask(depth, "depth")

    def page_sql(self, sort: Sort, limit: int, offset: int, facets: bool = False) -> str:
        """A page of matches with their total on each row; with `facets`, the facets as JSON on its first row
        (`FACETS`). The search runs once for both."""
        self.page_bound = max(int(limit), PAGE_BOUND)
        self.ask(f"{self.bind(limit)}::bigint", "lim")  # read by LIMIT and OFFSET, not by the rows
        self.ask(f"{self.bind(offset)}::bigint", "skip")
        if facets:
            self._ask_depth()
        if self.words:
            return self._ranked_page_sql(sort, facets)
        if facets:
            order = ORDER_BY[sort].format(score="p.score")
            ctes, source = [self._matched(f"{self.order_score} AS score"), FACETS], "FROM matched p"
        else:
            order = ORDER_BY[sort].format(score=self.order_score)
            ctes, source = [], self.source
        ctes.append(self._hit("p.id, count(*) OVER () AS total", source, order))
        return self._page(ctes, facets)

    def _hit(self, columns: str, source: str, order: str) -> str:
        """The page's ids in order: the sort keeps only the best `offset + limit` (a top-N sort) instead of
        sorting every match, and the page's order is numbered after it. The constant LIMIT tells the planner
        how small a page is (it takes an unknown LIMIT for a tenth of the matches, and would then read the
        cards of a broad search by scanning every product)."""
        return f"""hit AS MATERIALIZED (
    SELECT t.*, row_number() OVER () AS rank FROM (
        SELECT {columns} {source}
        ORDER BY {order}
        LIMIT (SELECT lim FROM words) OFFSET (SELECT skip FROM words)
    ) t LIMIT {self.page_bound}
)"""

    def _page(self, ctes: list[str], facets: bool) -> str:
        extra = f", CASE WHEN hit.rank = 1 THEN {FACETS_JSON} END AS facets" if facets else ""
        return f"""{self._with(*ctes)}
SELECT {CARD_COLUMNS}{extra}
FROM hit JOIN products p ON p.id = hit.id JOIN vendors v ON v.id = p.vendor_id
ORDER BY hit.rank
"""

    def stats_sql(self, facets: bool) -> str:
        """The total (and the facets) alone: for a page past the last."""
        columns = ["count(*) AS total"]
        ctes = [self._matched()]
        if facets:
            self._ask_depth()
            ctes.append(FACETS)
            columns.append(f"{FACETS_JSON} AS facets")
        return f"{self._with(*ctes)}\nSELECT {', '.join(columns)} FROM matched"

    def _ranked_page_sql(self, sort: Sort, facets: bool) -> str:
        """A page of a several-word search: whatever the sort, products matching every word come before
        the others. Sorted by relevance, the others follow by the weight of the words they match: a word
        that most of the matches have (inverse document frequency over the matches) counts little, so
        for "wireless headphones" the headphones come before the wireless yoga mats; then the score
        (`order_score`) decides, then sales.

        The score only orders products that match the same words, so it is computed for the groups (same
        words, same weight) that reach the page, not for every match: "bike lights" matches two thousand
        products, most of them for one word and below the page."""
        n = len(self.words)
        every = " AND ".join(f"p.m{i}" for i in range(n))
        total, counts = "count(*) OVER ()", [f"count(*) FILTER (WHERE p.m{i}) OVER ()" for i in range(n)]
        columns = [
            "p.id",
            "p.sold_count",
            f"{total} AS total",
            f"{every} AS every",
        ]
        if sort == Sort.RELEVANCE:
            # The last word names the kind of product more often than not ("boilco kettle", "wireless
            # headphones"): it weighs twice as much as the others.
            weight = " + ".join(
                f"CASE WHEN p.m{i} THEN {2 if i == n - 1 else 1}"
                f" * ln(1 + ({total} - {d} + 0.5)::float8 / ({d} + 0.5)) ELSE 0 END"
                for i, d in enumerate(counts)
            )
            columns += [f"{weight} AS weight", "p.search", TITLE_KEY]
        else:
            columns += ORDER_COLUMNS
        ctes = [
            self._matched(*(["p.search", TITLE_KEY] if sort == Sort.RELEVANCE else []), keep=facets),
            f"keyed AS MATERIALIZED (SELECT {', '.join(columns)} FROM matched p)",
        ]
        if facets:
            ctes.insert(1, FACETS)
        if sort == Sort.RELEVANCE:
            ctes.append(
                # The group of the page's last product: groups after it are all after the page.
                "cut AS (SELECT every, weight FROM keyed ORDER BY every DESC, weight DESC"
                " LIMIT 1 OFFSET (SELECT lim + skip - 1 FROM words))"
            )
            reaches = "NOT EXISTS (SELECT FROM cut) OR (p.every, p.weight) >= (SELECT every, weight FROM cut)"
            scored = f"CASE WHEN {reaches} THEN {self.order_score} END AS score"
            keys = "p.id, p.total, p.every, p.weight, p.sold_count"
            source = f"FROM (SELECT {keys}, {scored} FROM keyed p CROSS JOIN words w) p"
            order = "p.every DESC, p.weight DESC, p.score DESC NULLS LAST, p.sold_count DESC, p.id DESC"
        else:
            source, order = "FROM keyed p", f"p.every DESC, {ORDER_BY[sort]}"
        ctes.append(self._hit("p.id, p.total", source, order))
        return self._page(ctes, facets)


def _substring(text: str, pattern: str) -> str:
    """The title has `text` (as the LIKE `pattern`): through the trigram index, or for one or two characters
    of a script without spaces through the index of such titles (a pattern shorter than a trigram would make
    the trigram index read every title)."""
    if len(text) < 3 and UNSPACED_SCRIPT.search(text):
        return f"({UNSPACED_TITLE} AND {TITLE_KEY} LIKE {pattern})"
    return f"{TITLE_KEY} LIKE {pattern}"


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
