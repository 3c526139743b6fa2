"""Idempotency keys outlive neither their worker nor their day: a claim whose worker died is taken over by
the next retry at once, and keys past their 24 hours are purged by the sweeper."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from marketplace.core import idempotency
from marketplace.core.db import create_pool
from marketplace.orders.schemas import CheckoutIn
from tests.test_checkout import market, shopper, sku

__all__ = ["market"]
ROUTE = "POST /checkouts"


async def test_a_key_left_running_by_a_dead_worker_is_taken_over_at_once(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection, database_url: str
) -> None:
    buyer, address_id = await shopper(client, "crash@example.com")
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    body = {"address_id": address_id}
    request_hash = hashlib.sha256(msgspec.json.encode(msgspec.convert(body, CheckoutIn))).digest()
    # A worker claims the key on its own session, then dies before finishing.
    worker = await asyncpg.connect(database_url)
    assert await worker.fetchval(idempotency.CLAIM, buyer.id, ROUTE, "crash-1", request_hash)
    headers = {**buyer.headers, "Idempotency-Key": "crash-1"}
    assert (await client.post("/checkouts", json=body, headers=headers)).status_code == 409  # still running
    pid = await worker.fetchval("SELECT pg_backend_pid()")
    await worker.close()
    for _ in range(100):  # the server ends the backend as soon as it sees the socket close
        if not await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            break
        await asyncio.sleep(0.02)
    r = await client.post("/checkouts", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert await db.fetchval("SELECT count(*) FROM checkouts") == 1
    again = await client.post("/checkouts", json=body, headers=headers)
    assert again.json()["id"] == r.json()["id"] and again.headers["idempotent-replayed"] == "true"


async def test_expired_keys_are_purged_and_live_ones_kept(
    client: AsyncTestClient[Litestar], market: dict[str, Any], db: asyncpg.Connection, database_url: str
) -> None:
    buyer, address_id = await shopper(client, "old@example.com")
    await buyer.put(f"/cart/items/{sku(market['kettle'])}", json={"quantity": 1})
    headers = {**buyer.headers, "Idempotency-Key": "today"}
    assert (await client.post("/checkouts", json={"address_id": address_id}, headers=headers)).status_code == 201
    await db.execute(
        "INSERT INTO idempotency_keys (user_id, route, key, request_hash, status, expires_at)"
        " SELECT $1, $2, 'old-' || n, '\\x00', 'done', now() - interval '1 minute' FROM generate_series(1, 2500) n",
        buyer.id,
        ROUTE,
    )
    pool = await create_pool(database_url, 1, 2)
    try:
        assert await idempotency.purge_expired(pool) == 2500
    finally:
        await pool.close()
    assert await db.fetchval("SELECT array_agg(key) FROM idempotency_keys") == ["today"]
