"""The recommender at the size of the large demo: training on about a million interactions, ranking for one
buyer, and serving one request.

    .venv/bin/python -m benchmarks.recommender [--size large] [--requests 2000]

Training: the large demo's interactions are generated in memory (recommender.demo) and turned into a matrix;
each model is fitted on it, then the whole model choice (every candidate fitted and scored on a validation
split, the best refitted) is timed; the target is under 30 s for 1M interactions. Ranking: one buyer's list
from the chosen model, as the worker does while they browse. Serving: a served tiny demo is trained, then
`--requests` requests for buyers' lists go through the serving code (a Redis read and one PostgreSQL query);
the target is under 5 ms at p99."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

import numpy as np

from loadtest.runner import served
from marketplace.app import redis_client
from marketplace.core.db import create_pool
from recommender import serving
from recommender.data import from_frame
from recommender.demo import demo_frame
from recommender.training import HALF_LIFE_DAYS, candidates, choose, train


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


def serving_latency(requests: int) -> None:
    with served(1) as (database_url, redis_url, _):
        asyncio.run(_serve(database_url, redis_url, requests))


async def _serve(database_url: str, redis_url: str, requests: int) -> None:
    db = await create_pool(database_url, 1, 4)
    redis = redis_client(redis_url, decode_responses=True)
    try:
        trained = await train(db, redis, Path(".data/bench-recommender"), progress=False)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    training(args.size)
    serving_latency(args.requests)


if __name__ == "__main__":
    main()
