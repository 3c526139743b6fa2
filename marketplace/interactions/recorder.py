"""Records interactions without slowing the page that saw them.

`record()` appends a tuple to an in-memory buffer and returns; a background task writes the buffer with
one COPY every `interval` seconds (or sooner when it fills). What is lost if a worker is killed is at most
one interval of browsing signals, which is acceptable for recommendations and analytics; orders and
payments never go through here.

Given a Redis client, it also announces each signed-in buyer's view and cart addition at once (live.py), so
the recommender re-ranks within milliseconds instead of after the next batch and poll. Announcing is best
effort too: while Redis is away, or when no worker heard the last announcement, announcements are dropped,
and the batch, which never depends on Redis, still reaches the worker's poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import asyncpg
from redis.asyncio import Redis

from marketplace.core.outage import Outage
from marketplace.interactions import Kind, live

log = logging.getLogger(__name__)

COLUMNS = ("kind", "user_id", "session_id", "product_id", "quantity", "query", "result_count", "occurred_at")
Row = tuple[str, int | None, str | None, int | None, int | None, str | None, int | None, datetime]
# When nobody heard an announcement (no recommender worker running), announcing rests this long before
# trying again, so web workers spend nothing on it; a worker that starts listening is heard from then on.
UNHEARD_SECONDS = 5.0


class InteractionRecorder:
    def __init__(
        self,
        pool: asyncpg.Pool,
        interval: float = 0.5,
        max_buffer: int = 5_000,
        enabled: bool = True,
        redis: Redis | None = None,
    ) -> None:
        self.pool = pool
        self.redis = redis  # None: no announcements, the batch alone
        self.enabled = enabled
        self.interval = interval
        self.max_buffer = max_buffer
        self._buffer: list[Row] = []
        self._outage = Outage("interaction recorder")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self._announcements: list[live.Key] = []
        self._announce = asyncio.Event()
        self._announce_outage = Outage("interaction announcements")
        self._announcer: asyncio.Task[None] | None = None
        self._resting_until = 0.0  # time.monotonic() before which nothing is announced
        self.announced = 0

    def record(
        self,
        kind: Kind,
        *,
        user_id: int | None = None,
        session_id: str | None = None,
        product_id: int | None = None,
        quantity: int | None = None,
        query: str | None = None,
        result_count: int | None = None,
    ) -> None:
        if not self.enabled or (user_id is None and session_id is None):
            return  # switched off, or nobody to attribute it to
        at = datetime.now(UTC)
        self._buffer.append((kind, user_id, session_id, product_id, quantity, query, result_count, at))
        if len(self._buffer) >= self.max_buffer:
            self._wake.set()
        if (
            self._announcer is not None
            and user_id is not None
            and product_id is not None
            and kind in live.KINDS
            and len(self._announcements) < self.max_buffer  # Redis stuck: drop, the batch still has them
            and time.monotonic() >= self._resting_until
        ):
            self._announcements.append(live.key(user_id, product_id, kind, at))
            self._announce.set()

    async def flush(self) -> int:
        rows, self._buffer = self._buffer, []
        if not rows:
            return 0
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table("interactions", records=rows, columns=COLUMNS)
        self.written += len(rows)
        return len(rows)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.flush()
                self._outage.recovered()
            except Exception as error:  # browsing signals are best effort: drop the batch, keep recording
                self._outage.failed(error)

    async def _announce_forever(self) -> None:
        """Publish what was recorded since the last publish, in one message: under load, announcements
        coalesce while a publish is under way instead of costing a round trip each."""
        assert self.redis is not None
        while True:
            await self._announce.wait()
            self._announce.clear()
            keys, self._announcements = self._announcements, []
            try:
                if await self.redis.publish(live.CHANNEL, live.encode(keys)):
                    self.announced += len(keys)
                else:
                    self._resting_until = time.monotonic() + UNHEARD_SECONDS
                self._announce_outage.recovered()
            except Exception as error:  # Redis away: the batched write and the worker's poll carry these
                await asyncio.sleep(self._announce_outage.failed(error))
                self._announcements.clear()  # stale by now; the poll finds them

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="interaction-recorder")
        if self.redis is not None:
            self._announcer = asyncio.create_task(self._announce_forever(), name="interaction-announcer")

    async def stop(self) -> None:
        for task in (self._announcer, self._task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._announcer = None
        await self.flush()
