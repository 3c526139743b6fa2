"""The recommender at the size of the large demo: training on about a million interactions, ranking for one
buyer, and serving one request.

    .venv/bin/python -m benchmarks.recommender [--size large] [--requests 2000]

Training: the large demo's interactions are generated in memory (recommender.demo) and turned into a matrix;
each model is fitted on it, then the whole model choice (every candidate fitted and scored on a validation
split, the best refitted) is timed; the target is under 30 s for 1M interactions. Ranking: one buyer's list
from the chosen model, as the worker does while they browse. Serving: a served tiny demo is trained, then
`--requests` requests for buyers' lists go through the serving code (a Redis read and one PostgreSQL query);
the target is under 5 ms at p99. Pushing: a buyer views `--views` product pages while watching their
recommendations topic; from each request to the new list on the socket."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

from loadtest.runner import SECRET, served
from marketplace.accounts.tokens import access_token
from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.core.redis_pool import redis_client
from recommender import serving
from recommender.data import from_frame
from recommender.demo import demo_frame
from recommender.training import HALF_LIFE_DAYS, candidates, choose, train
from recommender.worker import Worker


def percentiles(ms: list[float]) -> str:
    p50, p99 = np.percentile(np.array(ms), [50, 99])
    return f"p50 {p50:.2f} ms   p99 {p99:.2f} ms"


def training(size: str) -> None:
    started = time.perf_counter()
    frame, _ = demo_frame(size)
    data = from_frame(frame, kind="kind", half_life_days=HALF_LIFE_DAYS)
    shape = data.matrix.shape
    print(f"{len(frame):,} interactions, {shape[0]:,} buyers x {shape[1]:,} products, {data.matrix.nnz:,} pairs; "
          f"generated and built in {time.perf_counter() - started:.1f} s")  # fmt: skip
    for name, model in candidates(shape[1]).items():
        started = time.perf_counter()
        model.fit(data.matrix)
        print(f"  fit {name:<16} {time.perf_counter() - started:6.2f} s")
    started = time.perf_counter()
    name, model, table = choose(data)
    took = time.perf_counter() - started
    verdict = "under" if took < 30 else "OVER"
    print(f"choose and refit (every candidate on a validation split): {took:.1f} s -> {name}, "
          f"validation NDCG@10 {table.loc[name, 'ndcg@10']:.4f}  ({verdict} 30 s)")  # fmt: skip
    users = np.random.default_rng(0).integers(0, shape[0], 500)
    ms = []
    for user in users:
        started = time.perf_counter()
        model.recommend([user], 100)
        ms.append((time.perf_counter() - started) * 1000)
    print(f"rank one buyer (the worker's step, {name}): {percentiles(ms)}")


def served_figures(requests: int, views: int) -> None:
    """Serving and pushing, against one served tiny demo (embedded servers start once per process)."""
    with served(1) as (database_url, redis_url, url):
        asyncio.run(_serve(database_url, redis_url, requests))
        asyncio.run(_push(database_url, redis_url, url, views))


async def _serve(database_url: str, redis_url: str, requests: int) -> None:
    db = await create_pool(database_url, 1, 4)
    redis = redis_client(redis_url, decode_responses=True)
    try:
        trained = await train(db, redis, Path(tempfile.mkdtemp(prefix="bench-recommender-")), progress=False)
        buyers = [int(k.rsplit(":", 1)[1]) for k in await redis.keys("recs:user:*")]
        ms = []
        for _ in range(requests):
            started = time.perf_counter()
            await serving.for_buyer(db, redis, random.choice(buyers), 10)
            ms.append((time.perf_counter() - started) * 1000)
    finally:
        await redis.aclose()
        await db.close()
    verdict = "under" if np.percentile(ms, 99) < 5 else "OVER"
    print(f"serve one buyer's list ({trained.model}, {requests} requests, Redis + PostgreSQL): {percentiles(ms)}"
          f"  ({verdict} 5 ms at p99)")  # fmt: skip


async def _push(database_url: str, redis_url: str, url: str, views: int) -> None:
    """A buyer browses product pages while watching their recommendations topic: time from the page view's
    request to the `recommendations.updated` event on the socket (recorder flush, worker poll, ranking,
    outbox, relay, socket)."""
    db = await create_pool(database_url, 1, 4)
    redis = redis_client(redis_url, decode_responses=True)
    worker = Worker(db, redis, Path(tempfile.mkdtemp(prefix="bench-recommender-")))  # trains afresh
    await worker.load_or_train()
    worker.last_id = await db.fetchval("SELECT coalesce(max(id), 0) FROM interactions")
    following = asyncio.create_task(worker._follow_forever())
    buyer = int((await redis.keys("recs:user:*"))[0].rsplit(":", 1)[1])
    products = [r["id"] for r in await db.fetch("SELECT id FROM products WHERE status = 'listed' LIMIT $1", views)]
    auth = {"Authorization": f"Bearer {access_token(buyer, SECRET, 10)}"}
    ms = []
    try:
        async with (
            connect(url.replace("http", "ws", 1) + "/feed", additional_headers=auth) as ws,
            httpx.AsyncClient(base_url=url, headers=auth) as client,
        ):
            await ws.send(json.dumps({"op": "subscribe", "topics": [topics.user_recommendations(buyer)]}))
            while json.loads(await ws.recv())["type"] != "subscribed":
                pass
            for product in products:
                started = time.perf_counter()
                await client.get(f"/products/{product}")
                while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "recommendations.updated":
                    pass
                ms.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.3)
    finally:
        following.cancel()
        await redis.aclose()
        await db.close()
    print(f"page view to new recommendations on the buyer's socket ({len(ms)} views): {percentiles(ms)}, "
          f"max {max(ms):.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--views", type=int, default=30)
    args = parser.parse_args()
    training(args.size)
    served_figures(args.requests, args.views)


if __name__ == "__main__":
    main()
