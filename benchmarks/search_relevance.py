"""Search relevance on the demo catalog: twenty buyers' queries judged against what the demo is made of, and
nDCG@10 of the results search returns for them.

    .venv/bin/python -m benchmarks.search_relevance [--size small] [--seed 42]

Starts embedded servers under .data/bench-relevance (or uses DATABASE_URL), seeds the demo marketplace
there once (`marketplace seed` with the same size and seed makes the same catalog), runs each query through
the search service as GET /products?q=... does, and prints each query's nDCG@10 and the mean.

Judgments come from how the demo is made (marketplace/seed/generator.py: every title is "<brand>
<adjective> <leaf category, singular> <model>"), not from search: a query names a kind of product (its leaf
category) and may add an adjective or a brand. A product of that kind with everything the query adds is
grade 2, a product of that kind without it grade 1 (a buyer asking for wireless headphones would rather see
other headphones than wireless yoga mats), anything else 0. A query naming only a brand grades that brand's
products 1. The ideal ranking for nDCG puts every graded product of the catalog first, best grade first."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from marketplace.core.db import create_pool, init_connection, migrate
from marketplace.embedded import embedded_servers
from marketplace.search.service import SearchQuery, search
from marketplace.seed.loader import seed
from marketplace.seed.vocabulary import ADJECTIVES

DATA_DIR = Path(".data/bench-relevance")
K = 10


@dataclass(frozen=True)
class Product:
    id: int
    title: str
    brand: str
    leaf: str  # the product's category, as the demo names it ("Headphones")

    @property
    def adjective(self) -> str:
        """The demo title's adjective: the word after the brand."""
        rest = self.title[len(self.brand) :].split()
        return rest[0] if rest and rest[0] in ADJECTIVES else ""


@dataclass(frozen=True)
class Judged:
    """A query and what answers it: a kind of product (`leaf`), optionally with an adjective or a brand."""

    text: str
    leaf: str | None = None
    adjective: str | None = None
    brand: str | None = None

    def grade(self, p: Product) -> int:
        if self.leaf is None:  # a brand alone
            return int(p.brand == self.brand)
        if p.leaf != self.leaf:
            return 0
        wanted = (self.adjective is None or p.adjective == self.adjective) and (
            self.brand is None or p.brand == self.brand
        )
        return 2 if wanted and (self.adjective or self.brand) else 1


QUERIES = [
    Judged("wireless headphones", "Headphones", adjective="Wireless"),
    Judged("yoga mat", "Yoga Mats"),
    Judged("stainless kettle", "Kettles", adjective="Stainless"),
    Judged("kettle stainless", "Kettles", adjective="Stainless"),  # the kind of product first
    Judged("portable speaker", "Speakers", adjective="Portable"),
    Judged("boilco kettle", "Kettles", brand="Boilco"),
    Judged("sonique headphones", "Headphones", brand="Sonique"),
    Judged("casa viva blender", "Blenders", brand="Casa Viva"),
    Judged("lightweight tent", "Tents", adjective="Lightweight"),
    Judged("organic moisturiser", "Moisturisers", adjective="Organic"),
    Judged("heavy duty dumbbells", "Dumbbells", adjective="Heavy-duty"),  # titles say "Heavy-duty"
    Judged("vintage lamp", "Lamps", adjective="Vintage"),  # not the vintage headlamps
    Judged("premium laptop", "Laptops", adjective="Premium"),
    Judged("phone case", "Phone Cases"),
    Judged("smart phone", "Smartphones"),  # written apart, titles say "Smartphone"
    Judged("bluetooth speaker", "Speakers"),  # no title says "bluetooth"
    Judged("kettel", "Kettles"),  # a typo
    Judged("wireles headphnes", "Headphones", adjective="Wireless"),  # two typos
    Judged("小米", brand="小米"),
    Judged("华为 speaker", "Speakers", brand="华为"),
]

CATALOG = """
SELECT p.id, p.title, p.brand, c.name AS leaf FROM products p JOIN categories c ON c.id = p.category_id
JOIN vendors v ON v.id = p.vendor_id
WHERE p.status = 'listed' AND v.status = 'active'
"""


@dataclass
class Scored:
    query: Judged
    ndcg: float
    top: list[Product]
    grades: list[int]


def ndcg(grades: list[int], ideal: list[int], k: int = K) -> float:
    """Graded nDCG@k: gain 2^grade - 1, discount log2(rank + 1); `ideal` is every grade the catalog holds."""

    def dcg(gs: list[int]) -> float:
        return sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(gs[:k]))

    best = dcg(sorted(ideal, reverse=True))
    return dcg(grades) / best if best else 0.0


async def catalog(db: asyncpg.Pool | asyncpg.Connection) -> dict[int, Product]:
    return {r["id"]: Product(r["id"], r["title"], r["brand"], r["leaf"]) for r in await db.fetch(CATALOG)}


async def evaluate(db: asyncpg.Pool, k: int = K) -> list[Scored]:
    """Each query's nDCG@k over what search returns for it, first page of `k`."""
    products = await catalog(db)
    scored = []
    for query in QUERIES:
        result = await search(db, SearchQuery(text=query.text, page_size=k))
        top = [products[card.id] for card in result.items]
        grades = [query.grade(p) for p in top]
        ideal = [g for g in (query.grade(p) for p in products.values()) if g]
        scored.append(Scored(query, ndcg(grades, ideal, k), top, grades))
    return scored


def mean_ndcg(scored: list[Scored]) -> float:
    return sum(s.ndcg for s in scored) / len(scored)


async def prepare(database_url: str, size: str, seed_value: int) -> None:
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM products)"):
            print(f"seeding the {size} demo marketplace (seed {seed_value}) once into {DATA_DIR} ...")
            await seed(conn, size, seed_value, quiet=True)
    finally:
        await conn.close()


async def report(database_url: str, verbose: bool) -> float:
    db = await create_pool(database_url, 1, 2)
    try:
        scored = await evaluate(db)
    finally:
        await db.close()
    for s in scored:
        print(f"  {s.query.text:<22} nDCG@{K} {s.ndcg:.3f}   grades {' '.join(map(str, s.grades)) or '-'}")
        if verbose:
            for p, g in zip(s.top, s.grades, strict=True):
                print(f"      {g}  {p.title}")
    mean = mean_ndcg(scored)
    print(f"\nmean nDCG@{K} over {len(scored)} queries: {mean:.3f}")
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small", choices=["tiny", "small"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--verbose", action="store_true", help="print each query's results with their grades")
    args = parser.parse_args()
    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), "", need_redis=False) as (database_url, _):
        asyncio.run(prepare(database_url, args.size, args.seed))
        print(f"search relevance on the {args.size} demo catalog (seed {args.seed})")
        asyncio.run(report(database_url, args.verbose))


if __name__ == "__main__":
    main()
