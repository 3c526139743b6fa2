"""The live push path: the recorder announces a buyer's view over Redis at once, and the worker re-ranks on it
without waiting for the interaction batch; the batch and the poll stay the durable path, and a view pushes
once whichever way reaches the worker first."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from marketplace.core.db import create_pool
from marketplace.interactions import Kind, live
from marketplace.interactions.recorder import InteractionRecorder
from marketplace.seed.loader import seed
from marketplace.settings import Settings
from recommender.worker import Worker

UPDATES = "SELECT count(*) FROM events WHERE type = 'recommendations.updated'"
UNREAD = "SELECT count(*) FROM interactions WHERE id > $1 AND user_id IS NOT NULL"  # what the poll has not read


@pytest.fixture
async def working(
    db: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[Worker, asyncpg.Pool, Redis]]:
    """A trained worker on the tiny demo, re-ranking live (announcements and poll) until the test ends."""
    await seed(db, "tiny", 2, quiet=True)
    pool = await create_pool(settings.database_url, 1, 4)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    worker = Worker(pool, redis, tmp_path)
    await worker.load_or_train()
    await worker.catch_up()
    task = asyncio.create_task(worker.live())
    try:
        await asyncio.wait_for(worker.listening.wait(), 10)
        yield worker, pool, redis
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()
        await pool.close()


async def a_buyer_and_a_product(worker: Worker, redis: Redis) -> tuple[int, int]:
    buyer = int((await redis.keys("recs:user:*"))[0].rsplit(":", 1)[1])
    return buyer, json.loads(await redis.get(f"recs:user:{buyer}"))[0]


async def until(check: Callable[[], Awaitable[object]], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time allowed")


async def _none_unread(db: asyncpg.Connection, worker: Worker) -> bool:
    return await db.fetchval(UNREAD, worker.last_id) == 0


async def _updates_are(db: asyncpg.Connection, count: int) -> bool:
    return await db.fetchval(UPDATES) == count


async def test_a_view_reaches_the_worker_before_the_batch_is_written_and_pushes_once(
    working: tuple[Worker, asyncpg.Pool, Redis], db: asyncpg.Connection
) -> None:
    worker, pool, redis = working
    buyer, viewed = await a_buyer_and_a_product(worker, redis)
    before = json.loads(await redis.get(f"recs:user:{buyer}"))
    before_count = await db.fetchval("SELECT count(*) FROM interactions")
    recorder = InteractionRecorder(pool, interval=60, redis=redis)  # the batch waits a minute
    recorder.start()
    try:
        recorder.record(Kind.VIEW, user_id=buyer, product_id=viewed)
        recorder.record(Kind.VIEW, session_id="anonymous-1", product_id=viewed)  # no buyer: nothing to re-rank
        await until(lambda: db.fetchval(UPDATES))
        # Pushed from the announcement alone: the view is not in the table yet.
        assert await db.fetchval("SELECT count(*) FROM interactions") == before_count
        assert worker.pushes == {"live": 1, "poll": 0}
        assert recorder.announced == 1
        event = await db.fetchrow("SELECT topic, payload FROM events WHERE type = 'recommendations.updated'")
        assert event["topic"] == f"user:{buyer}:recommendations"
        after = json.loads(await redis.get(f"recs:user:{buyer}"))
        assert after != before
        # The batch lands and the poll reads it: the view was pushed already, so it is not pushed again.
        assert await recorder.flush() == 2
        await until(lambda: _none_unread(db, worker))
        assert await worker.follow() == 0
        assert await db.fetchval(UPDATES) == 1 and worker.pushes == {"live": 1, "poll": 0}
    finally:
        await recorder.stop()


async def test_without_announcements_the_poll_still_pushes_and_the_listener_comes_back(
    working: tuple[Worker, asyncpg.Pool, Redis], db: asyncpg.Connection, settings: Settings
) -> None:
    worker, pool, redis = working
    buyer, viewed = await a_buyer_and_a_product(worker, redis)
    # Redis unreachable for the recorder: announcing fails quietly, the batch still reaches the poll.
    away = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    recorder = InteractionRecorder(pool, interval=0.1, redis=away)
    recorder.start()
    try:
        recorder.record(Kind.VIEW, user_id=buyer, product_id=viewed)
        await until(lambda: db.fetchval(UPDATES))
        assert worker.pushes == {"live": 0, "poll": 1} and recorder.announced == 0
    finally:
        await recorder.stop()
        await away.aclose()
    # The worker's subscription is cut (a Redis restart looks the same to it): it subscribes again and
    # hears the next announcement.
    await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

    async def subscribed() -> bool:
        return worker.listening.is_set() and (await redis.pubsub_numsub(live.CHANNEL))[0][1] == 1

    await until(subscribed)
    recorder = InteractionRecorder(pool, interval=60, redis=redis)
    recorder.start()
    try:
        recorder.record(Kind.CART, user_id=buyer, product_id=viewed)
        await until(lambda: _updates_are(db, 2))
        assert worker.pushes == {"live": 1, "poll": 1}
    finally:
        await recorder.stop()
