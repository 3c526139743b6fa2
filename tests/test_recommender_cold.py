"""Cold start on the seeded demo (issue #20): a product listed after everyone's browsing, with no interaction at
all, is found by its text among the similar products of the one it resembles; a buyer the model never saw
gets a list as soon as they look at something; and a buyer's viewed products stay in their list while bought
ones never come back."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from marketplace.core.db import create_pool
from marketplace.seed.loader import seed
from marketplace.settings import Settings
from recommender.serving import SIMILAR_KEY
from recommender.worker import Worker
from tests.conftest import sign_up

COPY = """
INSERT INTO products (vendor_id, category_id, title, brand, model, description, attributes, status)
SELECT vendor_id, category_id, title || ' (2nd edition)', brand, model, description, attributes, 'listed'
FROM products WHERE id = $1 RETURNING id
"""


async def test_a_new_product_is_found_by_its_text_and_a_new_buyer_gets_a_list(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await seed(db, "tiny", 2, quiet=True)
    original = await db.fetchval(
        "SELECT p.id FROM products p JOIN interactions i ON i.product_id = p.id WHERE p.status = 'listed'"
        " GROUP BY p.id ORDER BY count(*) DESC, p.id LIMIT 1"
    )
    new = await db.fetchval(COPY, original)  # no interaction with it anywhere
    newcomer = await sign_up(client, "newcomer@example.com")
    pool = await create_pool(settings.database_url, 1, 2)
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        worker = Worker(pool, redis, tmp_path)
        await worker.load_or_train()
        assert new not in worker.items  # the interaction model cannot know it
        assert new in json.loads(await redis.hget(SIMILAR_KEY, str(original)))  # text put it beside its twin
        assert json.loads(await redis.hget(SIMILAR_KEY, str(new)))[0] == original
        # The newcomer looks at the new product: the first list they get is not empty, and its twin leads it.
        worker.last_id = await db.fetchval("SELECT max(id) FROM interactions")
        view = "INSERT INTO interactions (kind, user_id, product_id) VALUES ('view', $1, $2)"
        await db.execute(view, newcomer.id, new)
        assert await worker.follow() == 1
        listed = json.loads(await redis.get(f"recs:user:{newcomer.id}"))
        assert listed and listed[0] == original
        # A known buyer views a product they bought and one they did not: the viewed one may stay listed,
        # the bought one never comes back.
        buyer, bought = await db.fetchrow(
            "SELECT o.buyer_id, l.product_id FROM orders o JOIN order_lines l ON l.order_id = o.id"
            " WHERE o.status <> 'cancelled' AND o.buyer_id = ANY($1::bigint[]) ORDER BY o.id LIMIT 1",
            list(worker.users),
        )
        liked = json.loads(await redis.get(f"recs:user:{buyer}") or "[0]")[0]  # the model's first pick
        await db.execute(view, buyer, bought)
        await db.execute(view, buyer, liked)
        assert await worker.follow() == 1
        after = json.loads(await redis.get(f"recs:user:{buyer}"))
        assert bought not in after and (liked == 0 or liked in after)
    finally:
        await redis.aclose()
        await pool.close()
