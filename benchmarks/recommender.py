"""The recommender at the size of the large demo: training on about a million interactions, ranking for one
buyer, serving one request, and a page view's way to the new list on the buyer's socket.

    .venv/bin/python -m benchmarks.recommender [--size large|huge] [--requests 2000] [--views 30] [--skip-training]
                                               [--skip-serving]

`--size huge` is the large-catalogue target instead (DESIGN.md: 10M interactions over 1M products trained in
under 10 minutes and 8 GiB): a synthetic marketplace built like the demo generator's
(benchmarks/recommender_data.py), the whole model choice and refit timed, the process's peak RSS, then ranking
20,000 buyers a block at a time and every product's similar products through the approximate index, each
with its recall against exact search on a sample.

Training: the large demo's interactions are generated in memory (recommender.demo) and turned into a matrix;
each model is fitted on it, then the whole model choice (every candidate fitted and scored on a validation
split, the best refitted) is timed; the target is under 30 s for 1M interactions. Ranking: one buyer's list
from the chosen model, as the worker does while they browse. Serving: a served tiny demo is trained, then
`--requests` requests for buyers' lists go through the serving code (a Redis read and one PostgreSQL query);
the target is under 5 ms at p99. Pushing: a buyer views `--views` product pages while watching their
recommendations topic, from each request to the new list on the socket (target p99 under 250 ms), split
into its stages: the request, the wait until the worker starts re-ranking (the recorder's announcement, or
its batch and the worker's poll), and from there to the socket (ranking, stored list, event, relay). The
same views are then pushed by the poll alone (no announcements heard), as the ratio's other side; any
second push for one view is counted (there must be none)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from scipy import sparse
from websockets.asyncio.client import ClientConnection, connect

from benchmarks.recommender_data import SCALES, synthetic_frame
from benchmarks.report import Figure, print_figures
from loadtest.runner import SECRET, served
from marketplace.accounts.tokens import access_token
from marketplace.core import topics
from marketplace.core.db import create_pool
from marketplace.core.redis_pool import redis_client
from recommender import serving
from recommender.data import from_frame
from recommender.demo import demo_frame
from recommender.neighbours import top_k
from recommender.training import HALF_LIFE_DAYS, candidates, choose, choose_matrix, train
from recommender.worker import Worker

NAME = "recommender"


def percentiles(ms: list[float] | np.ndarray) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(ms), [50, 99])
    return float(p50), float(p99)


def spread(ms: list[float] | np.ndarray) -> str:
    p50, p99 = percentiles(ms)
    return f"p50 {p50:.2f} ms   p99 {p99:.2f} ms"


def training(size: str) -> list[Figure]:
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
    print(f"choose and refit (every candidate on a validation split): {took:.1f} s -> {name}, "
          f"validation NDCG@10 {table.loc[name, 'ndcg@10']:.4f}")  # fmt: skip
    users = np.random.default_rng(0).integers(0, shape[0], 500)
    ms = []
    for user in users:
        started = time.perf_counter()
        model.recommend([user], 100)
        ms.append((time.perf_counter() - started) * 1000)
    print(f"rank one buyer (the worker's step, {name}): {spread(ms)}")
    return [
        Figure(NAME, f"choose + refit ({len(frame) / 1e6:.1f}M interactions)", took, "s", 30.0),
        Figure(NAME, "rank one buyer p99", percentiles(ms)[1], "ms"),
    ]


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def exact_top(score: Callable[[slice], np.ndarray], exclude: sparse.spmatrix, k: int) -> np.ndarray:
    """Exact top k, 16 rows at a time (the check must not set the run's peak RSS)."""
    exclude, out = sparse.csr_matrix(exclude), []
    for start in range(0, exclude.shape[0], 16):
        rows = slice(start, min(start + 16, exclude.shape[0]))
        scores = np.array(score(rows), dtype=np.float32)
        scores[exclude[rows].nonzero()] = -np.inf
        out.append(top_k(scores, k))
    return np.vstack(out)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max(1, (b >= 0).sum())
                          for a, b in zip(found, exact, strict=True)]))  # fmt: skip


def huge(size: str) -> list[Figure]:
    """The large-catalogue target: generation, the whole choice and refit, ranking and similar products."""
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the timings assume a quiet box)")
    started = time.perf_counter()
    frame, _ = synthetic_frame(SCALES[size])
    data = from_frame(frame, kind="kind", half_life_days=HALF_LIFE_DAYS)
    interactions, products = len(frame), SCALES[size].products
    del frame
    # Every product of the catalogue is a column, those nobody touched included (the long tail of a power law).
    m = data.matrix
    matrix = sparse.csr_matrix((m.data, data.item_ids[m.indices], m.indptr), shape=(m.shape[0], products))
    print(f"{interactions:,} interactions, {matrix.shape[0]:,} buyers x {products:,} products "
          f"({m.shape[1]:,} with interactions), {matrix.nnz:,} pairs; generated and built in "
          f"{time.perf_counter() - started:.1f} s, peak RSS {peak_gib():.2f} GiB")  # fmt: skip
    started, cpu = time.perf_counter(), cpu_seconds()
    name, model, table = choose_matrix(matrix)
    took, trained_peak, cpu = time.perf_counter() - started, peak_gib(), cpu_seconds() - cpu
    print(table.round(4).to_string())
    print(f"choose and refit: {took:.1f} s ({cpu:.0f} s of CPU) -> {name}, validation NDCG@10 "
          f"{table.loc[name, 'ndcg@10']:.4f}; peak RSS {trained_peak:.2f} GiB")  # fmt: skip
    figures = [
        Figure(NAME, f"huge: choose + refit ({interactions / 1e6:.1f}M interactions, {products / 1e6:.0f}M products)",
               took, "s", 600.0),
        Figure(NAME, "huge: choose + refit, CPU time (both cores' share)", cpu, "s"),
        Figure(NAME, "huge: peak RSS (generation and training)", trained_peak, "GiB", 8.0),
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(matrix.shape[0], min(20_000, matrix.shape[0]), replace=False))
    started = time.perf_counter()
    ranked = model.recommend(users, 100, exclude=data.bought[users])
    per_buyer = (time.perf_counter() - started) / len(users) * 1000
    print(f"rank 20,000 buyers (100 each, bought left out, a block at a time): {per_buyer:.2f} ms per buyer")
    figures.append(Figure(NAME, "huge: rank one buyer (in blocks)", per_buyer, "ms"))
    if getattr(model, "index_", None) is not None:
        sample = users[:300]
        figures.append(Figure(NAME, "huge: ranking recall@100 vs exact", recall(ranked[:300], exact_top(
            lambda rows: model._score(matrix[sample[rows]]), data.bought[sample], 100)), "ratio", 0.8,
            higher_is_better=True))  # fmt: skip
    started = time.perf_counter()
    similar = model.similar_all(20)
    took = time.perf_counter() - started
    print(f"similar products for all {products:,} products (20 each): {took:.1f} s; peak RSS {peak_gib():.2f} GiB")
    figures.append(Figure(NAME, "huge: similar products, every product", took, "s"))
    if getattr(model, "index_", None) is not None:
        # Products with interactions: an untouched product's factors are its random start shrunk by the
        # penalty, noise whose exact neighbours mean nothing; training gives those products text's lists.
        sample = rng.choice(data.item_ids, 300, replace=False)
        itself = sparse.csr_matrix((np.ones(300), (np.arange(300), sample)), shape=(300, products))
        exact = exact_top(lambda rows: model._similarity_rows(sample[rows]), itself, 20)
        figures.append(Figure(NAME, "huge: similar recall@20 vs exact (products with interactions)",
                              recall(similar[sample], exact), "ratio", 0.8, higher_is_better=True))  # fmt: skip
    figures.append(Figure(NAME, "huge: peak RSS, whole run", peak_gib(), "GiB", 8.0))
    print(f"load average after: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min)")
    return figures


def served_figures(requests: int, views: int, gap: float) -> list[Figure]:
    """Serving and pushing, against one served tiny demo (embedded servers start once per process)."""
    with served(1) as (database_url, redis_url, url):
        figures = asyncio.run(_serve(database_url, redis_url, requests))
        return figures + asyncio.run(_push(database_url, redis_url, url, views, gap))


async def _serve(database_url: str, redis_url: str, requests: int) -> list[Figure]:
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
    print(f"serve one buyer's list ({trained.model}, {requests} requests, Redis + PostgreSQL): {spread(ms)}")
    p50, p99 = percentiles(ms)
    return [Figure(NAME, "serve p99", p99, "ms", 5.0), Figure(NAME, "serve p50", p50, "ms")]


class TimedWorker(Worker):
    """The worker, noting when each re-ranking starts and when it is done (its event committed and the
    connection back in the pool, which may be after the event reached the socket)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.starts: list[float] = []
        self.seconds: list[float] = []

    async def _push(self, session: dict[int, dict[int, float]]) -> int:
        if session:
            self.starts.append(time.perf_counter())
        started = time.perf_counter()
        updated = await super()._push(session)
        if updated:
            self.seconds.append(time.perf_counter() - started)
        return updated


STAGES = ("request", "until re-ranking starts", "re-ranking to socket")


async def _push(database_url: str, redis_url: str, url: str, views: int, gap: float) -> list[Figure]:
    """A buyer browses product pages while watching their recommendations topic, first with the worker
    hearing the recorder's announcements, then with its poll alone."""
    db = await create_pool(database_url, 1, 4)
    redis = redis_client(redis_url, decode_responses=True)
    worker = TimedWorker(db, redis, Path(tempfile.mkdtemp(prefix="bench-recommender-")))  # trains afresh
    await worker.load_or_train()
    await worker.catch_up()
    buyer = int((await redis.keys("recs:user:*"))[0].rsplit(":", 1)[1])
    listed = (await serving.trending(db, redis, None, 4 * views)).items  # listed and in stock: their pages serve
    products = [c.id for c in listed if c.id in worker.items][:views]
    auth = {"Authorization": f"Bearer {access_token(buyer, SECRET, 10)}"}
    results, worker_ms = {}, {}
    try:
        async with (
            connect(url.replace("http", "ws", 1) + "/feed", additional_headers=auth) as ws,
            httpx.AsyncClient(base_url=url, headers=auth) as client,
        ):
            await ws.send(json.dumps({"op": "subscribe", "topics": [topics.user_recommendations(buyer)]}))
            while json.loads(await ws.recv())["type"] != "subscribed":
                pass
            for path in ("live", "poll"):
                following = asyncio.create_task(worker.live() if path == "live" else worker._follow_forever())
                if path == "live":
                    await asyncio.wait_for(worker.listening.wait(), 10)
                try:
                    worker.seconds.clear()
                    results[path] = await _browse(worker, ws, client, products, gap)
                    worker_ms[path] = [1000 * s for s in worker.seconds]
                finally:
                    following.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await following
    finally:
        await redis.aclose()
        await db.close()
    figures = []
    for path, (stages, extra) in results.items():
        total = stages.sum(axis=1)
        print(f"page view to new recommendations on the buyer's socket, {path} path ({len(total)} views): "
              f"{spread(total)}, max {total.max():.0f} ms; second pushes for one view: {extra}")  # fmt: skip
        for name, column in zip(STAGES, stages.T, strict=True):
            print(f"    {name:<26} {spread(column)}")
        print(f"      of which the worker's re-ranking, list and event {spread(np.array(worker_ms[path]))}")
        p50, p99 = percentiles(total)
        if path == "live":
            figures += [Figure(NAME, "push page view → list p99", p99, "ms", 250.0),
                        Figure(NAME, "push p50", p50, "ms")]  # fmt: skip
        else:
            figures.append(Figure(NAME, "push p99, poll alone", p99, "ms"))
            figures.append(Figure(NAME, "push p99 poll alone / live", p99 / figures[0].value, "ratio"))
        figures.append(Figure(NAME, f"second pushes for a view ({path})", extra, "pushes"))  # must be 0
    print(f"buyers re-ranked by path: {worker.pushes}")
    return figures


async def _browse(
    worker: TimedWorker, ws: ClientConnection, client: httpx.AsyncClient, products: list[int], gap: float
) -> tuple[np.ndarray, int]:
    """Per view, the stages' milliseconds; and how many updates came that no view was waiting for."""
    rows, extra = [], 0
    jitter = random.Random(0)
    for product in products:
        worker.starts.clear()
        started = time.perf_counter()
        await client.get(f"/products/{product}")
        answered = time.perf_counter()
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "recommendations.updated":
            pass
        arrived = time.perf_counter()
        ranking = worker.starts[0]
        rows.append([answered - started, ranking - answered, arrived - ranking])
        # A second push for this view would come within the recorder's batch and a poll (under a second).
        # The wait is jittered, or views would fall at one phase of the recorder's half-second batches.
        deadline = time.perf_counter() + gap * jitter.uniform(1.0, 1.5)
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.perf_counter()) > 0:
                extra += json.loads(await asyncio.wait_for(ws.recv(), left))["type"] == "recommendations.updated"
    return np.array(rows) * 1000, extra


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", help="a demo size (tiny..large), or huge (the synthetic 1M)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--gap", type=float, default=1.0, help="least seconds between views (> batch + poll)")
    parser.add_argument("--skip-training", action="store_true", help="only serving and pushing")
    parser.add_argument("--skip-serving", action="store_true", help="only training (and ranking)")
    args = parser.parse_args(argv)
    figures = [] if args.skip_training else huge(args.size) if args.size in SCALES else training(args.size)
    if not args.skip_serving:
        figures += served_figures(args.requests, args.views, args.gap)
    return print_figures(figures)


if __name__ == "__main__":
    main()
