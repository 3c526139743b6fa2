"""Search and product pages against a bare Litestar JSON endpoint, on the large demo data.

    .venv/bin/python -m benchmarks.catalog [--seconds 10] [--connections 32] [--size large] [--db-pool 20]
                                           [--scenarios cached,cached-no-recording,uncached,uncached-no-recording]

Starts embedded servers under .data/bench (seeding them once; DATABASE_URL and REDIS_URL use yours), then
the bare endpoint and one uvicorn worker of the app in each scenario: cached (search and product pages kept in
Redis for the whole run; PRODUCT_CACHE_SECONDS is 0 by default, so the benchmark sets it) or uncached, with
interaction recording on or off. Each is loaded with 500 searches of the demo's shapes (a kind of product, a
brand, a typo, a category; some with a price range or a sort) and 2,000 product pages.

Prints requests per second and latency percentiles of each, the ratios to the bare endpoint (measured again
just before each: other work on the box moves the figures by half either way), and how long each search shape
takes through the search service one at a time (its statement and rows, no HTTP); then the figures: uncached
search throughput and p99, and the cached product page against bare."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg

from benchmarks.http_load import Result, run
from benchmarks.report import Figure, print_figures
from loadtest.server import Server
from marketplace.core.db import create_pool, init_connection, migrate
from marketplace.embedded import embedded_servers
from marketplace.search import Sort
from marketplace.search.service import SearchQuery, search
from marketplace.seed.loader import seed
from marketplace.seed.vocabulary import BRANDS, TREE

__all__ = ["Server", "main"]  # benchmarks/checkout.py starts its server with this module's Server

NAME = "catalog"
DATA_DIR = Path(".data/bench")
# Longer than a run: an entry filled by one scenario's warm-up must not expire in the middle of the next one's
# measurement (with 30 s it did, and "cached" measured misses).
CACHE_SECONDS = "3600"
SCENARIOS = {
    "cached": {"RECORD_INTERACTIONS": "true", "SEARCH_CACHE_SECONDS": CACHE_SECONDS,
               "PRODUCT_CACHE_SECONDS": CACHE_SECONDS},
    "cached-no-recording": {"RECORD_INTERACTIONS": "false", "SEARCH_CACHE_SECONDS": CACHE_SECONDS,
                            "PRODUCT_CACHE_SECONDS": CACHE_SECONDS},
    "uncached": {"RECORD_INTERACTIONS": "true", "SEARCH_CACHE_SECONDS": "0", "PRODUCT_CACHE_SECONDS": "0"},
    "uncached-no-recording": {"RECORD_INTERACTIONS": "false", "SEARCH_CACHE_SECONDS": "0",
                              "PRODUCT_CACHE_SECONDS": "0"},
}  # fmt: skip
SEARCH_TARGET_RPS = 1000
SEARCH_TARGET_P99_MS = 50
CACHED_TARGET_RATIO = 0.5
BARE_SECONDS = 5.0


async def prepare(database_url: str, size: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The search paths (each with its shape) and product page paths the load cycles through."""
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM products)"):
            print(f"seeding the {size} demo marketplace once into {DATA_DIR} ...")
            await seed(conn, size, 42)
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM products WHERE status = 'listed'")]
        categories = [r["id"] for r in await conn.fetch("SELECT id FROM categories")]
    finally:
        await conn.close()
    rng = random.Random(1)
    leaves = [leaf.lower() for subs in TREE.values() for items in subs.values() for leaf, _ in items]
    brands = [b for bs in BRANDS.values() for b in bs]
    searches = []
    for _ in range(500):
        params: dict[str, object] = {}
        roll = rng.random()
        if roll < 0.5:
            params["q"] = rng.choice(leaves)
            shape = "several words" if " " in str(params["q"]) else "plain word"
        elif roll < 0.65:
            params["q"] = rng.choice(brands)
            shape = "brand"
        elif roll < 0.75:
            word = rng.choice(leaves)
            params["q"] = word[:-2] + word[-1] + word[-2]  # a typo: last two letters swapped
            shape = "typo"
        else:
            params["category"] = rng.choice(categories)
            shape = "category"
        if rng.random() < 0.3:
            params["min_price"] = rng.choice([0, 1000, 5000])
            params["max_price"] = params["min_price"] + rng.choice([5000, 20000])  # type: ignore[operator]
            shape += ", price range"
        if rng.random() < 0.3:
            params["sort"] = rng.choice(["price_asc", "newest", "rating"])
            shape += ", sorted"
        searches.append(("/products?" + urlencode(params), shape))
    products = [f"/products/{i}" for i in rng.sample(ids, min(2000, len(ids)))]
    return searches, products


async def measure(name: str, port: int, paths: list[str], seconds: float, connections: int) -> Result:
    # Warm up: every path once (filling the response cache when it is on), then a short run.
    await run(name, "127.0.0.1", port, paths, 600, connections, once=True)
    await run(name, "127.0.0.1", port, paths, 2.0, connections)
    return await run(name, "127.0.0.1", port, paths, seconds, connections)


def _query(path: str) -> SearchQuery:
    params = dict(parse_qsl(urlsplit(path).query))
    number = {k: int(params[k]) for k in ("category", "min_price", "max_price") if k in params}
    return SearchQuery(
        text=params.get("q"),
        category_id=number.get("category"),
        min_price=number.get("min_price"),
        max_price=number.get("max_price"),
        sort=Sort(params["sort"]) if "sort" in params else None,
    )


async def shapes(database_url: str, searches: list[tuple[str, str]], rounds: int = 3) -> dict[str, list[float]]:
    """Milliseconds per search of each shape through the search service, one at a time (the last round)."""
    pool = await create_pool(database_url, 1, 1)
    times: dict[str, list[float]] = defaultdict(list)
    try:
        for round_ in range(rounds):  # the first rounds prepare the statements and warm the caches
            for path, shape in searches:
                query = _query(path)
                started = time.perf_counter()
                await search(pool, query)
                if round_ == rounds - 1:
                    times[shape].append((time.perf_counter() - started) * 1000)
    finally:
        await pool.close()
    return times


def _shape_lines(times: dict[str, list[float]]) -> list[str]:
    """Per kind of search (whatever else it has), then with a price range and sorted (whatever the kind)."""
    order = ["plain word", "several words", "brand", "typo", "category", "with a price range", "sorted", "all"]
    groups: dict[str, list[float]] = {name: [] for name in order}
    for shape, ts in times.items():
        kind, *extras = shape.split(", ")
        groups[kind] += ts
        for extra in extras:
            groups[f"with a {extra}" if extra == "price range" else extra] += ts
        groups["all"] += ts
    lines = [f"  {'shape':<18} {'n':>4} {'mean':>7} {'p50':>7} {'p95':>7} {'max':>7}  (ms)"]
    for shape, ts in ((k, v) for k, v in groups.items() if v):
        p95 = statistics.quantiles(ts, n=20, method="inclusive")[-1] if len(ts) > 1 else ts[0]
        figures = (statistics.fmean(ts), statistics.median(ts), p95, max(ts))
        lines.append(f"  {shape:<18} {len(ts):>4} " + " ".join(f"{f:7.2f}" for f in figures))
    return lines


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--size", default="large")
    parser.add_argument("--db-pool", type=int, default=20, help="the app's PostgreSQL pool size (DB_POOL_MAX)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"some of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    chosen = [s for s in args.scenarios.split(",") if s]
    if unknown := set(chosen) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")) as urls:
        database_url, redis_url = urls
        searches, products = asyncio.run(prepare(database_url, args.size))
        search_paths = [path for path, _ in searches]
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(DATA_DIR),
               "DB_POOL_MAX": str(args.db_pool)}  # fmt: skip
        results: dict[str, Result] = {}
        bares: dict[str, Result] = {}  # the bare endpoint measured just before each: the box is shared
        with Server("benchmarks.bare_app:app", env, factory=False) as bare:
            for label in chosen:
                with Server("marketplace.app:create_app", {**env, **SCENARIOS[label]}, factory=True) as app:
                    for key, paths in [("search", search_paths), ("product page", products)]:
                        name = f"{key} ({label})"
                        bares[name] = asyncio.run(
                            measure(f"bare JSON, before {key}", bare.port, ["/bare"], BARE_SECONDS, args.connections)
                        )
                        results[name] = asyncio.run(measure(name, app.port, paths, args.seconds, args.connections))
        times = asyncio.run(shapes(database_url, searches))

    print(
        f"\n{args.connections} connections, {args.seconds:.0f} s each, one uvicorn worker, {args.size} demo data,"
        f" a pool of {args.db_pool} PostgreSQL connections"
    )
    for name, result in results.items():
        print(f"  {result.line()}   bare just before {bares[name].rps:,.0f} req/s")
    print("\nsearch shapes through the service, one at a time")
    print("\n".join(_shape_lines(times)))
    return print_figures(_figures(results, bares))


def _figures(results: dict[str, Result], bares: dict[str, Result]) -> list[Figure]:
    """Ratios to the bare endpoint measured just before each (`bares`), so that load from elsewhere on the
    box moves both sides of a ratio alike."""
    figures = []
    if search := results.get("search (uncached)"):
        figures += [
            Figure(NAME, "search uncached", search.rps, "req/s", SEARCH_TARGET_RPS, higher_is_better=True),
            Figure(NAME, "search uncached p99", search.pct(99), "ms", SEARCH_TARGET_P99_MS),
        ]
    if page := results.get(name := "product page (cached)"):
        ratio = page.rps / bares[name].rps
        figures.append(Figure(NAME, "product page cached / bare", ratio, "ratio", CACHED_TARGET_RATIO, True))
    figures.append(Figure(NAME, "bare JSON (median)", statistics.median(b.rps for b in bares.values()), "req/s"))
    for label in ("cached", "uncached"):
        for key in ("search", "product page"):
            if (name := f"{key} ({label})") in results and (key, label) != ("product page", "cached"):
                figures.append(Figure(NAME, f"{key} {label} / bare", results[name].rps / bares[name].rps, "ratio"))
    for label in ("cached", "uncached"):
        with_, without = results.get(f"product page ({label})"), results.get(f"product page ({label}-no-recording)")
        if with_ and without:
            figures.append(Figure(NAME, f"product page {label}, recording / not", with_.rps / without.rps, "ratio"))
    if search := results.get("search (uncached)"):
        figures.append(Figure(NAME, "search uncached p50", search.pct(50), "ms"))
    return figures


if __name__ == "__main__":
    main()
