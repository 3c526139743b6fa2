"""The analytics worker: a process of its own, so scoring and clustering never run on a web worker's loop.

Every `poll_seconds` it queues a scheduled run when the last one is `every_hours` old, then claims a queued
run (a marketer's or the schedule's) and computes it. Claims use FOR UPDATE SKIP LOCKED, so several workers
may run side by side; a run left 'running' by a worker that died is marked failed after an hour."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from analytics import queries as q
from analytics import segments

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, db: asyncpg.Pool, every_hours: float = 24.0, poll_seconds: float = 1.0) -> None:
        self.db, self.every, self.poll_seconds = db, timedelta(hours=every_hours), poll_seconds

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("analytics worker: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    async def step(self) -> int | None:
        """Queue a scheduled run if one is due, compute one queued run; returns its id (None: nothing to do)."""
        await self.db.execute(q.ABANDON_RUNS)
        last = await self.db.fetchval(q.LAST_RUN_AT)
        if last is None or datetime.now(UTC) - last >= self.every:
            await segments.request(self.db, None, "schedule")
        run_id = await self.db.fetchval(q.CLAIM_RUN)
        if run_id is None:
            return None
        log.info("analytics worker: computing segment run %d", run_id)
        await segments.execute(self.db, run_id)
        return run_id
