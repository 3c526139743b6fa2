"""The hub: one per app process. It receives every batch the relay publishes on the Redis channel and hands
each event to the local sockets subscribed to its topic.

Event ids have no holes, so the hub notices any it missed (Redis restarted, its connection dropped, a
relay died between numbering and publishing) and fetches them from PostgreSQL before going on; it also
checks the relay's published mark every `check_seconds`, so a miss is healed even when nothing follows it.
Topics live in the map only while someone watches them, so memory stays flat as topics come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import msgspec
from redis.asyncio import Redis

from marketplace.core.outage import Outage
from realtime import CHANNEL
from realtime import queries as q
from realtime.schemas import FeedEvent
from realtime.subscriber import Subscriber
from realtime.topics import coalescing_key

log = logging.getLogger(__name__)
CATCH_UP_PAGE = 5000
decode_batch = msgspec.json.Decoder(list[FeedEvent]).decode
encode = msgspec.json.Encoder().encode


class Hub:
    def __init__(self, db: asyncpg.Pool, redis_url: str, *, check_seconds: float = 1.0) -> None:
        self.db = db
        self.redis_url = redis_url
        self.check_seconds = check_seconds
        self.last_id = 0  # every event up to here has been handed to its subscribers
        self.ready = asyncio.Event()
        self._topics: dict[str, set[Subscriber]] = {}
        self._stopping = False
        self._pubsub = None
        self._lock = asyncio.Lock()  # one of receiving and catching up at a time, so ids stay in order
        self.outage = Outage("feed hub")

    def watch(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            self._topics.setdefault(topic, set()).add(subscriber)

    def unwatch(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            watchers = self._topics.get(topic)
            if watchers is not None:
                watchers.discard(subscriber)
                if not watchers:
                    del self._topics[topic]

    @property
    def topic_count(self) -> int:
        return len(self._topics)

    async def run(self) -> None:
        """Subscribe, catch up from PostgreSQL, then listen; after any Redis or PostgreSQL error, start over
        with back-off. Events published meanwhile are fetched from PostgreSQL on the way back in, so sockets
        see no gap, only a delay."""
        while not self._stopping:
            redis = Redis.from_url(self.redis_url)
            pubsub = self._pubsub = redis.pubsub()
            try:
                if not self.ready.is_set():  # the first start: sockets follow events from here on
                    self.last_id = await self.db.fetchval(q.PUBLISHED_SEQ)
                    self.ready.set()
                await pubsub.subscribe(CHANNEL)
                # Anything published while we were not listening comes from PostgreSQL.
                async with self._lock:
                    await self._catch_up(await self.db.fetchval(q.PUBLISHED_SEQ))
                self.outage.recovered()
                await self._listen(pubsub)
            except Exception as error:  # the task group wraps what its tasks raise in an ExceptionGroup
                if self._stopping:
                    return
                await self.outage.pause(error)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await redis.aclose()

    async def stop(self) -> None:
        """Stop by closing the subscription's socket under the reader: redis-py's blocking read does not
        always give way to task cancellation."""
        self._stopping = True
        if self._pubsub is not None and self._pubsub.connection is not None:
            await self._pubsub.connection.disconnect(nowait=True)

    async def _listen(self, pubsub) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._check_published())
            async for message in pubsub.listen():
                if message["type"] == "message":
                    async with self._lock:
                        await self._receive(decode_batch(message["data"]))
            # redis-py ends the iteration (instead of raising) when the connection goes away.
            raise ConnectionError("the feed subscription ended")

    async def _check_published(self) -> None:
        """A mark seen on the previous check and still not reached means a batch never arrived."""
        seen_published = self.last_id
        while True:
            await asyncio.sleep(self.check_seconds)
            published = await self.db.fetchval(q.PUBLISHED_SEQ)
            if seen_published > self.last_id:
                async with self._lock:
                    await self._catch_up(seen_published)
            seen_published = published

    async def _receive(self, events: list[FeedEvent]) -> None:
        for event in events:
            if event.id <= self.last_id:
                continue  # a duplicate: the relay publishes at least once
            if event.id > self.last_id + 1:
                await self._catch_up(event.id - 1)
            self._dispatch(event)

    async def _catch_up(self, up_to: int) -> None:
        while self.last_id < up_to:
            rows = await self.db.fetch(q.BETWEEN, self.last_id, up_to, CATCH_UP_PAGE)
            if not rows:
                log.error("feed hub: events %d..%d are missing", self.last_id + 1, up_to)
                self.last_id = up_to
                return
            for row in rows:
                self._dispatch(FeedEvent.of(row))

    def _dispatch(self, event: FeedEvent) -> None:
        self.last_id = event.id
        watchers = self._topics.get(event.topic)
        if watchers:
            wire = encode(event).decode()  # encoded once for every socket
            key = coalescing_key(event)
            for subscriber in list(watchers):
                subscriber.offer(event.id, event.topic, wire, key)
