"""Search relevance on the demo catalog (`make run`'s: small, seed 42): the twenty judged queries of
benchmarks/search_relevance.py keep their nDCG@10 above a floor, and on every one of them the products
matching all the words (as PostgreSQL's full text reads them) come before those matching only some."""

from __future__ import annotations

import asyncpg

from benchmarks.search_relevance import QUERIES, evaluate, mean_ndcg
from marketplace.core.db import create_pool
from marketplace.search.service import SearchQuery, search
from marketplace.seed.loader import seed
from marketplace.settings import Settings

# Measured 1.000 on this catalog (0.599 before search ranked all-word matches first); a change that loses
# more than a few places on these queries should be looked at.
NDCG_FLOOR = 0.9

EVERY_WORD = """
SELECT p.search @@ plainto_tsquery('english', immutable_unaccent($2)) AS every
FROM unnest($1::bigint[]) WITH ORDINALITY AS r(id, n) JOIN products p ON p.id = r.id ORDER BY r.n
"""


async def test_demo_queries_rank_relevant_products_first(db: asyncpg.Connection, settings: Settings) -> None:
    await seed(db, "small", 42, quiet=True)
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        scored = await evaluate(pool)
        several = [q for q in QUERIES if len(q.text.split()) > 1]
        pages = [await search(pool, SearchQuery(text=q.text, page_size=50)) for q in several]
    finally:
        await pool.close()
    report = "\n".join(f"{s.query.text}: {s.ndcg:.3f} {s.grades}" for s in scored)
    assert mean_ndcg(scored) >= NDCG_FLOOR, report
    assert all(s.ndcg >= 0.5 for s in scored), report
    for query, page in zip(several, pages, strict=True):
        every = [r["every"] for r in await db.fetch(EVERY_WORD, [c.id for c in page.items], query.text)]
        assert every == sorted(every, reverse=True), f"{query.text}: a partial match before a full one"
