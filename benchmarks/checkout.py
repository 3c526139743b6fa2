"""Checkout throughput through the API against the same transaction run directly with asyncpg.

    .venv/bin/python -m benchmarks.checkout [--seconds 10] [--buyers 100] [--hot]

Seeds a small demo marketplace under .data/bench-checkout (with stock no run can exhaust), gives each
buyer an address and signs tokens for them, then for `--seconds` every buyer repeatedly puts two random
SKUs in its cart and checks out. The same loop runs once through one uvicorn worker and once as direct
calls of the checkout transaction over an asyncpg pool. `--hot` makes every checkout take the same SKU
(one hot row). Prints checkouts per second, latency percentiles, the ratio, and whether p99 stays under
the 0.5 s bar with this many concurrent buyers."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path

import asyncpg
import msgspec
import numpy as np

from benchmarks.catalog import Server
from benchmarks.http_load import Client
from benchmarks.report import Figure, print_figures
from marketplace.accounts.tokens import access_token
from marketplace.cart.service import set_quantity
from marketplace.core import fields
from marketplace.core.db import create_pool, init_connection, migrate
from marketplace.embedded import embedded_servers
from marketplace.orders.place_checkout import place_checkout
from marketplace.seed.loader import seed
from marketplace.settings import Settings

DATA_DIR = Path(".data/bench-checkout")
SECRET = "benchmark-secret-key-for-signing-tokens-0123456789"
ADDRESS = {"recipient": "Bench Buyer", "phone": "+4915112345678", "line1": "1 Load Street", "city": "Berlin",
           "postal_code": "10115", "country": "DE"}  # fmt: skip


async def prepare(database_url: str, buyers: int) -> tuple[list[int], list[int], dict[int, int]]:
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        await seed(conn, "small", 7, reset=True, quiet=True)
        await conn.execute("UPDATE skus SET on_hand = 10000000, reserved = 0")
        buyer_ids = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM users WHERE 'vendor' <> ALL(roles) ORDER BY id LIMIT $1", buyers)
        ]
        addresses = {}
        for buyer in buyer_ids:  # sealed as the API stores them, so checkout answers pay for opening them
            sealed = fields.sealed_snapshot(ADDRESS)
            addresses[buyer] = await conn.fetchval(
                "INSERT INTO addresses (user_id, recipient, phone, line1, city, postal_code, country, match_key,"
                " is_default) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false) RETURNING id",
                buyer,
                *sealed.values(),
            )
        skus = [r["id"] for r in await conn.fetch("SELECT id FROM skus ORDER BY id")]
        # A live shop has carts: give every other buyer two lines, so that cart_items is analysed with rows
        # in it. Analysed empty, the planner's cached generic plans scan it sequentially, and it bloats
        # with every checkout's deleted lines during the run.
        await conn.execute(
            "INSERT INTO cart_items (user_id, sku_id, quantity)"
            " SELECT u.id, s.id, 1 FROM users u"
            " CROSS JOIN LATERAL (SELECT id FROM skus WHERE id % 997 IN (u.id % 997, (u.id * 7) % 997) LIMIT 2) s"
            " WHERE u.id <> ALL($1::bigint[]) AND 'vendor' <> ALL(u.roles)",
            buyer_ids,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return buyer_ids, skus, addresses


def summary(name: str, count: int, seconds: float, latencies: list[float]) -> str:
    lat = np.array(latencies)
    return (
        f"  {name:<34} {count / seconds:8,.0f} checkouts/s   p50 {np.percentile(lat, 50):7.1f} ms"
        f"   p99 {np.percentile(lat, 99):7.1f} ms   ({count} in {seconds:.1f} s)"
    )


async def through_api(
    port: int, buyers: list[int], skus: list[int], addresses: dict[int, int], seconds: float, hot: bool
):
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def buyer_loop(buyer: int) -> None:
        nonlocal failures
        rng = random.Random(buyer)
        headers = {"Authorization": f"Bearer {access_token(buyer, SECRET, 60)}"}
        checkout = msgspec.json.encode({"address_id": addresses[buyer]})
        async with Client("127.0.0.1", port) as client:
            while time.perf_counter() < deadline:
                for sku in [skus[0]] if hot else rng.sample(skus, 2):
                    await client.request("PUT", f"/cart/items/{sku}", b'{"quantity": 1}', headers)
                started = time.perf_counter()
                status, _ = await client.request("POST", "/checkouts", checkout, headers)
                if status == 201:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures += 1

    began = time.perf_counter()
    await asyncio.gather(*(buyer_loop(b) for b in buyers))
    return len(latencies), time.perf_counter() - began, latencies, failures


async def direct(
    database_url: str, buyers: list[int], skus: list[int], addresses: dict[int, int], seconds: float, hot: bool
):
    pool = await create_pool(database_url, 20, 20)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def buyer_loop(buyer: int) -> None:
        rng = random.Random(buyer)
        while time.perf_counter() < deadline:
            for sku in [skus[0]] if hot else rng.sample(skus, 2):
                await set_quantity(pool, buyer, sku, 1)  # what PUT /cart/items runs
            started = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                checkout = await place_checkout(conn, buyer, addresses[buyer], 15)
                msgspec.json.encode(checkout)
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(buyer_loop(b) for b in buyers))
    finally:
        await pool.close()
    return len(latencies), time.perf_counter() - began, latencies


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--hot", action="store_true", help="every checkout takes the same SKU")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers serving the API")
    args = parser.parse_args(argv)

    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")) as urls:
        database_url, redis_url = urls
        fields.configure(Settings(data_dir=DATA_DIR, secret_key=SECRET))  # the server's keys (DATA_DIR below)
        buyers, skus, addresses = asyncio.run(prepare(database_url, args.buyers))
        env = {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(DATA_DIR), "SECRET_KEY": SECRET,
            "RECORD_INTERACTIONS": "true", "DB_POOL_MAX": "20",
        }  # fmt: skip
        with Server("marketplace.app:create_app", env, factory=True, workers=args.workers) as app:
            api_count, api_seconds, api_lat, failures = asyncio.run(
                through_api(app.port, buyers, skus, addresses, args.seconds, args.hot)
            )
        direct_count, direct_seconds, direct_lat = asyncio.run(
            direct(database_url, buyers, skus, addresses, args.seconds, args.hot)
        )

    print(f"\n{args.buyers} concurrent buyers, {'one hot SKU' if args.hot else 'two random SKUs'} per checkout")
    print(summary(f"API ({args.workers} uvicorn worker(s))", api_count, api_seconds, api_lat) + f"   failed {failures}")
    print(summary("same transaction, asyncpg direct", direct_count, direct_seconds, direct_lat))
    ratio = (api_count / api_seconds) / (direct_count / direct_seconds)
    p99 = float(np.percentile(api_lat, 99))
    name = f"checkout ({args.buyers} buyers{', hot SKU' if args.hot else ''})"
    return print_figures([
        Figure(name, "through the API", api_count / api_seconds, "/s", 500, higher_is_better=True),
        Figure(name, "API p99", p99, "ms", 100),
        Figure(name, "asyncpg direct", direct_count / direct_seconds, "/s", 1500, higher_is_better=True),
        Figure(name, "API / direct", ratio, "ratio", 0.5, higher_is_better=True),
        Figure(name, "failed", failures, "", 0),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
