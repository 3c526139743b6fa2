"""Admitted flash purchases are written in batches (flash_sales/batch.py): a crowd costs the hot rows one
update per batch, each buyer still gets exactly its own checkout, and whatever one purchase in a batch
gets wrong costs only that purchase."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from marketplace.core import topics
from marketplace.flash_sales.gate import gate_keys
from marketplace.settings import Settings
from tests.test_flash_sales import crowd, flash_orders, gate_remaining, open_sale, settings, stall

__all__ = ["settings", "stall"]  # the fixtures this module shares with test_flash_sales


async def attempt(client: AsyncTestClient[Litestar], url: str, headers: dict[str, str], body: dict) -> tuple[int, Any]:
    r = await client.post(url, json=body, headers=headers)
    return r.status_code, r.json()


async def test_a_crowd_is_written_in_batches_and_each_buyer_gets_its_own_checkout(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    sale = await open_sale(stall["alpha"], stall["sku"], units=60, limit=1)
    buyers = await crowd(db, settings, 90)
    url = f"/flash-sales/{sale['id']}/purchase"
    batches = client.app.state.flash_purchases
    before = batches.batches
    results = await asyncio.gather(*(attempt(client, url, h, {"address_id": a}) for _, h, a in buyers))
    assert Counter(code for code, _ in results) == {201: 60, 409: 30}
    assert batches.batches - before <= 60

    # Each answer is the buyer's own checkout, exactly as reading it back shows it.
    for (code, body), (_, headers, _) in zip(results, buyers, strict=True):
        if code == 201:
            assert body["shipping_address"]["line1"] and body["orders"][0]["lines"][0]["quantity"] == 1
            again = await client.get(f"/checkouts/{body['id']}", headers=headers)
            assert again.json() == body
    orders = await flash_orders(db, sale["id"])
    assert len(orders) == 60 and len({o["buyer_id"] for o in orders}) == 60
    assert {o["unit_price"] for o in orders} == {1999}
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 60
    assert await db.fetchval("SELECT reserved FROM skus WHERE id = $1", stall["sku"]) == 60
    history = "SELECT count(*) FROM order_history WHERE order_id = ANY($1)"
    assert await db.fetchval(history, [o["id"] for o in orders]) == 60

    # Every order is announced to its vendor and its buyer; the sale's figures once per batch, the last one final.
    placed = await db.fetch(
        "SELECT topic, payload FROM events WHERE type = 'order.placed' AND (payload->>'order_id')::bigint = ANY($1)",
        [o["id"] for o in orders],
    )
    vendor_topic = topics.vendor_orders(stall["alpha"].vendor_id)
    assert Counter(e["topic"] == vendor_topic for e in placed) == {True: 60, False: 60}
    changes = await db.fetch(
        "SELECT payload FROM events WHERE type = 'flash_sale.changed' AND (payload->>'sale_id')::bigint = $1"
        " ORDER BY id",
        sale["id"],
    )
    assert 1 <= len(changes) <= batches.batches - before
    assert changes[-1]["payload"]["remaining"] == 0


async def test_a_batch_the_database_refuses_is_placed_one_by_one(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """A gate that lets through more than the sale has left: the batch's statement refuses as a whole, then
    its purchases are placed one by one, so exactly the units left are sold and nothing half-written stays."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=3, limit=1)
    buyers = await crowd(db, settings, 8)
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.hset(gate_keys(sale["id"])[0], "remaining", 50)
    finally:
        await redis.aclose()
    url = f"/flash-sales/{sale['id']}/purchase"
    results = await asyncio.gather(*(attempt(client, url, h, {"address_id": a}) for _, h, a in buyers))
    assert Counter(code for code, _ in results) == {201: 3, 409: 5}
    assert {body["reason"] for code, body in results if code == 409} == {"sold_out"}
    assert len(await flash_orders(db, sale["id"])) == 3
    assert await db.fetchval("SELECT sold FROM flash_sales WHERE id = $1", sale["id"]) == 3
    assert await db.fetchval("SELECT count(*) FROM checkouts WHERE buyer_id = ANY($1)", [b for b, _, _ in buyers]) == 3


async def test_a_purchase_refused_on_its_own_leaves_the_rest_of_its_batch_alone(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """A buyer naming someone else's address is refused (404) and its unit goes back to the gate, while the
    buyers written beside it get their checkouts."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=10, limit=1)
    buyers = await crowd(db, settings, 6)
    url = f"/flash-sales/{sale['id']}/purchase"
    stranger_address = buyers[0][2]
    bodies = [{"address_id": stranger_address if i == 5 else a} for i, (_, _, a) in enumerate(buyers)]
    results = await asyncio.gather(*(attempt(client, url, h, b) for (_, h, _), b in zip(buyers, bodies, strict=True)))
    assert [code for code, _ in results] == [201] * 5 + [404]
    assert len(await flash_orders(db, sale["id"])) == 5
    assert await gate_remaining(settings.redis_url, sale["id"]) == 5


async def test_keys_ride_along_in_a_batch(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, stall: dict[str, Any]
) -> None:
    """Buyers sending an Idempotency-Key, each twice at once: one purchase each, and a later retry gets the
    checkout that was written in the batch back."""
    sale = await open_sale(stall["alpha"], stall["sku"], units=20, limit=1)
    buyers = await crowd(db, settings, 10)
    url = f"/flash-sales/{sale['id']}/purchase"
    keyed = [({**h, "Idempotency-Key": f"buy-{b}"}, {"address_id": a}) for b, h, a in buyers]
    results = await asyncio.gather(*(attempt(client, url, h, body) for h, body in keyed for _ in range(2)))
    firsts = [results[2 * i] for i in range(10)] + [results[2 * i + 1] for i in range(10)]
    assert all(code in (201, 409) for code, _ in firsts)
    orders = await flash_orders(db, sale["id"])
    assert len(orders) == 10 and len({o["buyer_id"] for o in orders}) == 10
    for headers, body in keyed:
        r = await client.post(url, json=body, headers=headers)
        assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "true"
        assert r.json()["orders"][0]["id"] in {o["id"] for o in orders}
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE status = 'running'") == 0
