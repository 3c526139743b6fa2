"""Browsing interactions are recorded off the request path and attributed to buyer or session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from marketplace.core.db import create_pool
from marketplace.interactions import Kind, live
from marketplace.interactions.recorder import InteractionRecorder
from tests.catalog_helpers import category_tree, product
from tests.conftest import Actor, approved_vendor


async def test_views_and_searches_are_recorded_for_buyers_and_sessions(
    client: AsyncTestClient[Litestar], app: Litestar, admin: Actor, buyer: Actor, db: asyncpg.Connection
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "v@example.com", "Viewed")
    item = await product(vendor, cats["Kettles"], "Watched kettle")
    await buyer.get(f"/products/{item['id']}")
    await client.get(f"/products/{item['id']}", headers={"X-Session-Id": "anon-session-1"})
    await client.get(f"/products/{item['id']}")  # neither: nothing to attribute
    await client.get("/products", params={"q": "kettle"}, headers={"X-Session-Id": "anon-session-1"})
    await client.get("/products", params={"q": "x"}, headers={"X-Session-Id": "bad id with spaces"})
    # The recorder writes its batch within its interval (0.5 s).
    for _ in range(50):
        if await db.fetchval("SELECT count(*) FROM interactions") >= 3:
            break
        await asyncio.sleep(0.1)
    rows = await db.fetch(
        "SELECT kind, user_id, session_id, product_id, query, result_count FROM interactions ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("view", buyer.id, None, item["id"], None, None),
        ("view", None, "anon-session-1", item["id"], None, None),
        ("search", None, "anon-session-1", None, "kettle", 1),
    ]


async def test_recording_returns_at_once_and_one_copy_writes_the_batch(
    database_url: str, db: asyncpg.Connection
) -> None:
    pool = await create_pool(database_url, 1, 2)
    recorder = InteractionRecorder(pool, interval=60)
    try:
        for i in range(1000):
            recorder.record(Kind.VIEW, session_id=f"session-{i % 7:03d}", product_id=i)
        assert await db.fetchval("SELECT count(*) FROM interactions") == 0
        assert await recorder.flush() == 1000
        assert await db.fetchval("SELECT count(DISTINCT product_id) FROM interactions") == 1000
    finally:
        await pool.close()


async def test_a_buyers_product_view_is_announced_at_once_and_an_anonymous_one_is_not(
    client: AsyncTestClient[Litestar], admin: Actor, buyer: Actor, redis_url: str
) -> None:
    cats = await category_tree(admin)
    vendor = await approved_vendor(client, admin, "v@example.com", "Announced")
    item = await product(vendor, cats["Kettles"], "Announced kettle")
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(live.CHANNEL)
        await client.get(f"/products/{item['id']}", headers={"X-Session-Id": "anon-session-1"})
        started = datetime.now(UTC)
        await buyer.get(f"/products/{item['id']}")
        message = None
        for _ in range(50):  # the subscription's confirmation comes first, as a None
            if (message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)) is not None:
                break
        assert message is not None
        [(user_id, product_id, kind, at)] = live.decode(message["data"])
        assert (user_id, product_id, kind) == (buyer.id, item["id"], "view")
        assert 0 <= at - live.stamp(started) < 5_000_000  # when it was recorded, in microseconds
    finally:
        await pubsub.aclose()
        await redis.aclose()


async def test_interactions_beyond_the_retention_window_are_pruned_and_their_counts_kept(
    db: asyncpg.Connection, database_url: str
) -> None:
    from marketplace.interactions.retention import prune

    rows = [  # (kind, user, session, product, quantity, days ago)
        ("view", 1, None, 7, None, 400), ("view", None, "s-1", 7, None, 400), ("cart", 1, None, 7, 2, 400),
        ("purchase", 1, None, 7, 3, 400), ("search", None, "s-1", None, None, 400), ("view", 2, None, 8, None, 399),
        ("view", 1, None, 7, None, 10), ("cart", 2, None, 8, 1, 364),
    ]  # fmt: skip
    await db.executemany(
        "INSERT INTO interactions (kind, user_id, session_id, product_id, quantity, occurred_at)"
        " VALUES ($1, $2, $3, $4, $5, date_trunc('day', now()) - make_interval(days => $6) + interval '12 hours')",
        rows,
    )
    pool = await create_pool(database_url, 1, 3)
    try:
        assert await prune(pool, 0) == 0  # 0 keeps everything
        # Two processes at once, in batches smaller than the work: each row is deleted and counted once.
        assert sum(await asyncio.gather(prune(pool, 365, batch=2), prune(pool, 365, batch=2))) == 6
        assert await prune(pool, 365) == 0
    finally:
        await pool.close()
    kept = await db.fetch(
        "SELECT kind, extract(day FROM date_trunc('day', now()) - date_trunc('day', occurred_at))::int AS age"
        " FROM interactions ORDER BY id"
    )
    assert [(r["kind"], r["age"]) for r in kept] == [("view", 10), ("cart", 364)]
    days = await db.fetch(
        "SELECT (current_date - day) AS age, kind, product_id, events, units FROM interaction_days"
        " ORDER BY day, kind, product_id NULLS LAST"
    )
    assert [tuple(r) for r in days] == [
        (400, "cart", 7, 1, 2), (400, "purchase", 7, 1, 3), (400, "search", None, 1, 0), (400, "view", 7, 2, 0),
        (399, "view", 8, 1, 0),
    ]  # fmt: skip
