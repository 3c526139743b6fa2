"""The relay: publishes committed events to Redis, numbered in the order it publishes them.

Every app process runs one; a session advisory lock lets exactly one lead, and when the leader's process
or connection dies PostgreSQL drops its lock and a standby takes over within `standby_seconds`. The leader
wakes on the events trigger's NOTIFY and also polls, so a lost notification delays an event by at most
`poll_seconds`.

Each round is one statement: it numbers a batch of committed events and records how far the previous round
was published; then the batch is published. A crash between numbering and publishing is healed by the next
leader, which republishes from the recorded point: delivery is at least once, and receivers drop what they
have seen by its number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import msgspec
from redis.asyncio import Redis

from marketplace.core.leader import Leader
from realtime import CHANNEL, NOTIFY_CHANNEL
from realtime import queries as q
from realtime.schemas import FeedEvent

log = logging.getLogger(__name__)


PRUNE_EVERY_SECONDS = 3600


async def prune(conn: asyncpg.Connection, retention_days: int, batch: int = 10_000) -> int:
    """Delete published events older than the retention window, in batches; returns how many."""
    deleted = 0
    while True:
        count = int((await conn.execute(q.PRUNE, retention_days, batch)).split()[-1])
        deleted += count
        if count < batch:
            return deleted


class Relay(Leader):
    def __init__(
        self,
        database_url: str,
        redis: Redis,
        *,
        poll_seconds: float = 0.5,
        retention_days: int = 30,
        standby_seconds: float = 1.0,
        batch: int = 1000,
    ) -> None:
        super().__init__(database_url, "relay", q.TRY_LEAD, "feed relay", standby_seconds)
        self.redis = redis
        self.poll_seconds = poll_seconds
        self.retention_days = retention_days
        self.batch = batch

    async def lead(self, conn: asyncpg.Connection) -> None:
        await self.redis.ping()
        self.outage.recovered()
        self.leading = True
        log.info("feed relay: leading")
        wake = asyncio.Event()
        await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
        last = await conn.fetchval(q.LAST_SEQ)
        published = await conn.fetchval(q.PUBLISHED_SEQ)
        while published < last:  # the last leader numbered events it may not have published
            rows = await conn.fetch(q.BETWEEN, published, last, self.batch)
            await self._publish([FeedEvent.of(r) for r in rows])
            published = rows[-1]["id"]
            await conn.execute(q.SET_PUBLISHED, published)
        # Never below the published mark, even if old events were deleted: receivers drop ids they have seen.
        next_seq = max(last, published) + 1
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        marked = next_seq - 1  # what the database records as published (everything below next_seq is)
        while True:
            if loop.time() >= next_prune:
                await prune(conn, self.retention_days)
                next_prune = loop.time() + PRUNE_EVERY_SECONDS
            wake.clear()
            # Numbering a round also records the previous round as published: a crash in between makes the
            # next leader publish that round again, which receivers drop by number.
            rows = await conn.fetch(q.NUMBER_NEXT, next_seq, self.batch, next_seq - 1)
            marked = next_seq - 1
            if rows:
                numbered = sorted((FeedEvent.of(r, r["seq"]) for r in rows), key=lambda event: event.id)
                await self._publish(numbered)
                next_seq = numbered[-1].id + 1
            if len(rows) < self.batch:
                if marked < next_seq - 1 and not wake.is_set():  # idle: no round to carry the mark along
                    marked = next_seq - 1
                    await conn.execute(q.SET_PUBLISHED, marked)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_seconds)
            if conn.is_closed():
                raise asyncpg.InterfaceError("the relay's connection closed")

    async def _publish(self, events: list[FeedEvent]) -> None:
        """One batch (at most `batch` events, as every caller reads) in one message."""
        await self.redis.publish(CHANNEL, msgspec.json.encode(events))
