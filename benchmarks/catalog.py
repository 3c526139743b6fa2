"""Search and product pages against a bare Litestar JSON endpoint, on the large demo data.

    .venv/bin/python -m benchmarks.catalog [--seconds 10] [--connections 32] [--size large]

Starts embedded servers under .data/bench (seeding them once), then one uvicorn worker at a time:
the bare endpoint, the app with interaction recording on, and the app with it off. Prints requests per
second, latency percentiles and the ratios: search and product page against bare, and the product page
with recording against without (the target is within 10%)."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from pathlib import Path
from urllib.parse import urlencode

import asyncpg

from benchmarks.http_load import Result, run
from loadtest.server import Server
from marketplace.core.db import init_connection, migrate
from marketplace.embedded import embedded_servers
from marketplace.seed.loader import seed
from marketplace.seed.vocabulary import BRANDS, TREE

DATA_DIR = Path(".data/bench")


async def prepare(database_url: str, size: str) -> tuple[list[str], list[str]]:
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
        elif roll < 0.65:
            params["q"] = rng.choice(brands)
        elif roll < 0.75:
            word = rng.choice(leaves)
            params["q"] = word[:-2] + word[-1] + word[-2]  # a typo: last two letters swapped
        else:
            params["category"] = rng.choice(categories)
        if rng.random() < 0.3:
            params["min_price"] = rng.choice([0, 1000, 5000])
            params["max_price"] = params["min_price"] + rng.choice([5000, 20000])  # type: ignore[operator]
        if rng.random() < 0.3:
            params["sort"] = rng.choice(["price_asc", "newest", "rating"])
        searches.append("/products?" + urlencode(params))
    products = [f"/products/{i}" for i in rng.sample(ids, min(2000, len(ids)))]
    return searches, products


async def measure(name: str, port: int, paths: list[str], seconds: float, connections: int) -> Result:
    # Warm up: every path once (filling the response cache when it is on), then a short run.
    await run(name, "127.0.0.1", port, paths, 600, connections, once=True)
    await run(name, "127.0.0.1", port, paths, 2.0, connections)
    return await run(name, "127.0.0.1", port, paths, seconds, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--size", default="large")
    args = parser.parse_args()

    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")) as urls:
        database_url, redis_url = urls
        searches, products = asyncio.run(prepare(database_url, args.size))
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(DATA_DIR)}
        results: dict[str, Result] = {}
        with Server("benchmarks.bare_app:app", env, factory=False) as bare:
            results["bare"] = asyncio.run(measure("bare JSON", bare.port, ["/bare"], args.seconds, args.connections))
        scenarios = [
            ("cached", {"RECORD_INTERACTIONS": "true"}),
            ("cached, no recording", {"RECORD_INTERACTIONS": "false"}),
            ("uncached", {"RECORD_INTERACTIONS": "true", "SEARCH_CACHE_SECONDS": "0", "PRODUCT_CACHE_SECONDS": "0"}),
            ("uncached, no recording", {"RECORD_INTERACTIONS": "false", "SEARCH_CACHE_SECONDS": "0",
                                        "PRODUCT_CACHE_SECONDS": "0"}),
        ]  # fmt: skip
        for label, extra in scenarios:
            with Server("marketplace.app:create_app", {**env, **extra}, factory=True) as app:
                for key, paths in [("search", searches), ("product page", products)]:
                    name = f"{key} ({label})"
                    results[name] = asyncio.run(measure(name, app.port, paths, args.seconds, args.connections))

    print(f"\n{args.connections} connections, {args.seconds:.0f} s each, one uvicorn worker, {args.size} demo data")
    for result in results.values():
        print("  " + result.line())
    bare_rps = results["bare"].rps

    def ratio(a: str, b: str) -> float:
        return results[a].rps / results[b].rps

    print("\nratios (targets: search and product page >= 0.50 of bare; recording >= 0.90 of none)")
    for label in ("cached", "uncached"):
        print(f"  search ({label}) / bare                    {results[f'search ({label})'].rps / bare_rps:6.3f}")
        print(f"  product page ({label}) / bare              {results[f'product page ({label})'].rps / bare_rps:6.3f}")
        print(
            f"  product page ({label}), recording / not    "
            f"{ratio(f'product page ({label})', f'product page ({label}, no recording)'):6.3f}"
        )


if __name__ == "__main__":
    main()
