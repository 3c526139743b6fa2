"""Live feed under load: thousands of open sockets while orders are placed at a steady rate.

    .venv/bin/python -m benchmarks.feed [--sockets 2000] [--seconds 20] [--rate 50] [--workers 1]

Seeds a small demo marketplace under .data/bench-feed, serves it with uvicorn, and opens `--sockets`
WebSockets: most watch a vendor's order feed (spread over every vendor), some a buyer's orders, some a
popular product's stock. Then `--rate` checkouts per second run directly against PostgreSQL (each one
reserves stock too, so stock topics move). Every vendor socket must receive every order of its vendor:
the script prints commit-to-receive latency for those (the producer notes the time each transaction
committed, the sockets the time each event arrived, on the same clock), messages delivered per second,
and how many expected deliveries never arrived within five seconds of the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import time
from collections import defaultdict
from itertools import cycle
from pathlib import Path

import asyncpg
import msgspec
import numpy as np
from websockets.asyncio.client import connect

from benchmarks.catalog import Server
from benchmarks.checkout import SECRET, prepare
from marketplace.accounts.tokens import access_token
from marketplace.cart.service import set_quantity
from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.embedded import embedded_servers
from marketplace.orders.place_checkout import place_checkout

DATA_DIR = Path(".data/bench-feed")
TARGET_P99_MS = 50


class Receivers:
    def __init__(self) -> None:
        self.arrivals: dict[tuple[int, int], float] = {}  # (socket, order id) → arrival time
        self.delivered = 0
        self.watching: dict[int, list[int]] = defaultdict(list)  # vendor → its sockets

    async def hold(self, number: int, url: str, token: str, topic: str, vendor: int | None, ready: asyncio.Event):
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_queue=None) as ws:
            await ws.send(msgspec.json.encode({"op": "subscribe", "topics": [topic]}))
            async for raw in ws:
                message = msgspec.json.decode(raw)
                if message.get("type") == "subscribed":
                    if vendor is not None:
                        self.watching[vendor].append(number)
                    ready.set()
                elif "topic" in message:
                    self.delivered += 1
                    if message["type"] == "order.placed" and vendor is not None:
                        self.arrivals[(number, message["data"]["order_id"])] = time.time()


async def produce(database_url: str, buyers: list[int], skus: list[int], addresses: dict[int, int], rate: float,
                  seconds: float) -> dict[int, tuple[int, float]]:  # fmt: skip
    """Checkouts at a steady rate; returns order id → (vendor, commit time)."""
    pool = await create_pool(database_url, 4, 10)
    committed: dict[int, tuple[int, float]] = {}
    rng = random.Random(1)
    turns = cycle(buyers)

    async def one(buyer: int) -> None:
        async with pool.acquire() as conn:
            for sku in rng.sample(skus, 2):
                await set_quantity(conn, buyer, sku, 1)
            async with conn.transaction():
                checkout = await place_checkout(conn, buyer, addresses[buyer], 15)
            at = time.time()
        for order in checkout.orders:
            committed[order.id] = (order.vendor_id, at)

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(next(turns))))
    await asyncio.gather(*tasks)
    await pool.close()
    return committed


async def run(database_url: str, port: int, args: argparse.Namespace, market: tuple) -> None:
    buyers, skus, addresses = market
    conn = await asyncpg.connect(database_url)
    vendors = [
        (r["id"], r["user_id"]) for r in await conn.fetch("SELECT id, user_id FROM vendors WHERE status = 'active'")
    ]
    products = [r["id"] for r in await conn.fetch("SELECT id FROM products WHERE status = 'listed' LIMIT 20")]
    await conn.close()
    url = f"ws://127.0.0.1:{port}/feed"
    receivers = Receivers()
    holders, ready_events = [], []
    vendor_turns, buyer_turns, product_turns = cycle(vendors), cycle(buyers), cycle(products)
    for number in range(args.sockets):
        ready = asyncio.Event()
        share = number % 10
        if share < 8:
            vendor, user = next(vendor_turns)
            spec = (access_token(user, SECRET, 60), topics.vendor_orders(vendor), vendor)
        elif share == 8:
            buyer = next(buyer_turns)
            spec = (access_token(buyer, SECRET, 60), topics.user_orders(buyer), None)
        else:
            spec = (access_token(buyers[0], SECRET, 60), topics.product_stock(next(product_turns)), None)
        holders.append(asyncio.create_task(receivers.hold(number, url, *spec, ready)))
        ready_events.append(ready)
        if number % 100 == 99:
            await asyncio.sleep(0.05)  # don't stampede the accept queue
    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready_events)), 120)
    print(f"  {args.sockets} sockets open and subscribed in {time.perf_counter() - began:.1f} s")

    delivered_before = receivers.delivered
    began = time.perf_counter()
    committed = await produce(database_url, buyers, skus, addresses, args.rate, args.seconds)
    await asyncio.sleep(5)  # let the last events arrive
    elapsed = time.perf_counter() - began
    for holder in holders:
        holder.cancel()
    await asyncio.gather(*holders, return_exceptions=True)

    latencies, lost = [], 0
    for order_id, (vendor, at) in committed.items():
        for number in receivers.watching[vendor]:
            arrived = receivers.arrivals.get((number, order_id))
            if arrived is None:
                lost += 1
            else:
                latencies.append((arrived - at) * 1000)
    lat = np.array(latencies)
    delivered = receivers.delivered - delivered_before
    p99 = float(np.percentile(lat, 99))
    print(f"  orders committed        {len(committed):>8,}  ({args.rate:g} checkouts/s for {args.seconds:g} s)")
    print(f"  messages delivered      {delivered:>8,}  ({delivered / (elapsed - 5):,.0f}/s over the producing time)")
    print(f"  vendor order deliveries {len(latencies):>8,}  lost: {lost}")
    print(
        f"  commit → vendor socket  p50 {np.percentile(lat, 50):.1f} ms   p95 {np.percentile(lat, 95):.1f} ms"
        f"   p99 {p99:.1f} ms   max {lat.max():.1f} ms"
    )
    verdict = "meets" if p99 <= TARGET_P99_MS else "OVER"
    print(f"  p99 target {TARGET_P99_MS} ms with {args.sockets} sockets: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=50, help="checkouts per second")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers holding the sockets")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # children inherit it

    with embedded_servers(DATA_DIR, os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")) as urls:
        database_url, redis_url = urls
        market = asyncio.run(prepare(database_url, 100))  # migrates and seeds
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATA_DIR": str(DATA_DIR), "SECRET_KEY": SECRET}
        with Server("marketplace.app:create_app", env, factory=True, workers=args.workers) as app:
            print(f"\nLive feed: {args.sockets} sockets, {args.workers} uvicorn worker(s)")
            asyncio.run(run(database_url, app.port, args, market))


if __name__ == "__main__":
    main()
