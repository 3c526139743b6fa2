"""The retention window of raw browsing interactions: rows older than `interaction_retention_days` are
deleted in batches, their counts kept per day, product and kind in `interaction_days` (see its migration).
Orders, payments and reviews are not interactions and are never pruned here. Runs in every app process;
batches are small, so two processes pruning at once only share the work."""

from __future__ import annotations

import asyncpg

from marketplace.core.outage import run_forever
from marketplace.interactions import queries as q

PRUNE_EVERY_SECONDS = 3600.0


async def prune(db: asyncpg.Pool | asyncpg.Connection, retention_days: int, batch: int = 10_000) -> int:
    """Delete the raw interactions older than `retention_days` (0 keeps them all); returns how many."""
    if retention_days <= 0:
        return 0
    deleted = 0
    while True:
        count = await db.fetchval(q.PRUNE_BATCH, retention_days, batch)
        deleted += count
        if count < batch:
            return deleted


async def run_retention(db: asyncpg.Pool, retention_days: int, every: float = PRUNE_EVERY_SECONDS) -> None:
    await run_forever("interaction retention", lambda: prune(db, retention_days), every)
