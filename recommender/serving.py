"""Serving recommendations from what training stored in Redis, filtered against the database at request time.

Training writes ranked product ids: each active buyer's list (`recs:user:<id>`), each product's similar
products (hash `recs:similar`), and trending products per category and overall (`recs:trending:<id|all>`).
A request reads one list and turns it into product cards in one query that drops what cannot be bought now
and what this buyer already bought; then no shop may fill more than `PER_VENDOR` of the first places. A
buyer's list holds only what the model ranked for that buyer: nobody else's history reaches a response
except through the trained model."""

from __future__ import annotations

import json

import asyncpg
from msgspec import Struct
from redis.asyncio import Redis

from marketplace.search.schemas import ProductCard
from marketplace.search.service import card
from recommender import queries as q

PER_VENDOR = 3
CANDIDATES = 100  # ids a stored list keeps
DEFAULT_LIMIT = 10  # products in a list when the caller does not say (and in the worker's live pushes)


# Ids looked up per request: enough that filtering (bought, sold out, taken down) and the per-shop limit still
# leave a full list, few enough that the one query stays small.
def lookups(limit: int) -> int:
    return 4 * limit + 10


def user_key(user_id: int) -> str:
    return f"recs:user:{user_id}"


SIMILAR_KEY = "recs:similar"
MODEL_KEY = "recs:model"


def trending_key(category_id: int | None) -> str:
    return f"recs:trending:{category_id if category_id is not None else 'all'}"


class Recommendations(Struct):
    source: str  # personal, similar, trending or best_selling
    model: str | None  # the trained model's version, when one served the list
    items: list[ProductCard]


def diversify(cards: list[ProductCard], limit: int, per_vendor: int = PER_VENDOR) -> list[ProductCard]:
    """Keep the ranking, but let no shop take more than `per_vendor` places while others are waiting; the
    places left over are filled in order from what was held back."""
    chosen: list[ProductCard] = []
    held: list[ProductCard] = []
    per: dict[int, int] = {}
    for c in cards:
        if per.get(c.vendor_id, 0) < per_vendor:
            chosen.append(c)
            per[c.vendor_id] = per.get(c.vendor_id, 0) + 1
        else:
            held.append(c)
        if len(chosen) == limit:
            return chosen
    return (chosen + held)[:limit]


async def _cards(db: asyncpg.Pool, ids: list[int], buyer_id: int, limit: int) -> list[ProductCard]:
    return [card(r) for r in await db.fetch(q.CARDS, ids[: lookups(limit)], buyer_id)]


async def _model(redis: Redis) -> str | None:
    return await redis.hget(MODEL_KEY, "version")


async def personal(db: asyncpg.Pool, ranked: list[int], buyer_id: int, limit: int) -> list[ProductCard]:
    """A buyer's ranked product ids as they are served: what the buyer can buy now and has not bought, no
    shop taking more than its share of the first places. GET /me/recommendations and the worker's live
    `recommendations.updated` both come through here, so a pushed list is the list the buyer would get."""
    return diversify(await _cards(db, ranked, buyer_id, limit), limit)


async def for_buyer(db: asyncpg.Pool, redis: Redis, buyer_id: int, limit: int) -> Recommendations:
    stored = await redis.get(user_key(buyer_id))
    if stored is None:  # a new or quiet buyer: what is trending
        return await trending(db, redis, None, limit, buyer_id)
    return Recommendations("personal", await _model(redis), await personal(db, json.loads(stored), buyer_id, limit))


async def similar(db: asyncpg.Pool, redis: Redis, product_id: int, limit: int, buyer_id: int = 0) -> Recommendations:
    stored = await redis.hget(SIMILAR_KEY, str(product_id))
    if stored is None:
        category = await db.fetchval(q.PRODUCT_CATEGORY, product_id)
        result = await trending(db, redis, category, limit + 1, buyer_id)
        return Recommendations(result.source, result.model, [c for c in result.items if c.id != product_id][:limit])
    ids = [i for i in json.loads(stored) if i != product_id]
    return Recommendations("similar", await _model(redis), diversify(await _cards(db, ids, buyer_id, limit), limit))


async def trending(
    db: asyncpg.Pool, redis: Redis, category_id: int | None, limit: int, buyer_id: int = 0
) -> Recommendations:
    stored = await redis.get(trending_key(category_id))
    if stored is not None:
        ids, source, model = json.loads(stored), "trending", await _model(redis)
    else:  # nothing trained yet: the best sellers
        ids, source, model = (
            [r["id"] for r in await db.fetch(q.BEST_SELLING, category_id, CANDIDATES)],
            "best_selling",
            None,
        )
    return Recommendations(source, model, diversify(await _cards(db, ids, buyer_id, limit), limit))
