"""The hub: one per app process. It receives every batch the relay publishes on the Redis channel and hands
each event to the local sockets subscribed to its topic.

Event ids have no holes, so the hub notices any it missed (Redis restarted, its connection dropped, a
relay died between numbering and publishing) and fetches them from PostgreSQL before going on; it also
checks the relay's published mark every `check_seconds`, so a miss is healed even when nothing follows it.
Topics live in the map only while someone watches them, so memory stays flat as topics come and go.

Each event is encoded once, into one ASGI message that every socket watching its topic sends as it is. A
product's stock watched by a crowd (`crowd` sockets of this process or more: a flash sale's page) is not
sent event by event: the hub keeps the latest figures of each SKU and sale and hands them over every
`crowd_seconds`. Every other topic (an owner's orders, a buyer's notices) gets every event at once; a
socket that also watches a crowd's topic first gets that topic's held figures, so ids still only grow on
each socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from operator import itemgetter

import asyncpg
import msgspec
from redis.asyncio import Redis

from marketplace.core.outage import Outage
from marketplace.core.topics import is_product_stock
from realtime import CHANNEL
from realtime import queries as q
from realtime.schemas import FeedEvent
from realtime.subscriber import Frame, Subscriber, text_frame
from realtime.topics import coalescing_key

log = logging.getLogger(__name__)
CATCH_UP_PAGE = 5000
decode_batch = msgspec.json.Decoder(list[FeedEvent]).decode
encode = msgspec.json.Encoder().encode


def settle_garbage_collector() -> None:
    """Once per process, when its first hub starts (the app is built by then): move what startup made out of
    the collector's reach. A full collection walks every tracked object while the loop stands still; over an
    app's ~250k objects that took 100-400 ms here, and every socket of the worker waited it out (the feed's
    p99). Startup's objects live as long as the process, so frozen they cost nothing; what is frozen and later
    becomes cyclic garbage is never freed, hence once, after a collection, and not for every app a test
    process builds."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


class Hub:
    def __init__(
        self,
        db: asyncpg.Pool,
        redis_url: str,
        *,
        check_seconds: float = 1.0,
        crowd: int = 100,
        crowd_seconds: float = 0.25,
    ) -> None:
        self.db = db
        self.redis_url = redis_url
        self.check_seconds = check_seconds
        self.crowd = crowd
        self.crowd_seconds = crowd_seconds
        self.last_id = 0  # every event up to here has been handed to its subscribers (or is held for a crowd)
        self.ready = asyncio.Event()
        self._topics: dict[str, set[Subscriber]] = {}
        self._held: dict[str, dict[object, tuple[int, Frame]]] = {}  # crowd topic → key → its latest event
        self._flush: asyncio.TimerHandle | None = None
        self._stopping = False
        self._pubsub = None
        self._lock = asyncio.Lock()  # one of receiving and catching up at a time, so ids stay in order
        self.outage = Outage("feed hub")

    def watch(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            self._topics.setdefault(topic, set()).add(subscriber)
            if is_product_stock(topic):
                subscriber.stock_topics.add(topic)

    def unwatch(self, subscriber: Subscriber, topics: list[str]) -> None:
        for topic in topics:
            if is_product_stock(topic):
                subscriber.stock_topics.discard(topic)
            watchers = self._topics.get(topic)
            if watchers is not None:
                watchers.discard(subscriber)
                if not watchers:
                    del self._topics[topic]

    @property
    def topic_count(self) -> int:
        return len(self._topics)

    @property
    def position(self) -> int:
        """Where a new subscription starts: before anything still held for a crowd, so it gets that too."""
        if not self._held:
            return self.last_id
        return min(event_id for held in self._held.values() for event_id, _ in held.values()) - 1

    async def run(self) -> None:
        """Subscribe, catch up from PostgreSQL, then listen; after any Redis or PostgreSQL error, start over
        with back-off. Events published meanwhile are fetched from PostgreSQL on the way back in, so sockets
        see no gap, only a delay."""
        settle_garbage_collector()
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
        if not watchers:
            return
        frame = text_frame(encode(event).decode())  # encoded once for every socket
        key = coalescing_key(event)
        if len(watchers) >= self.crowd and is_product_stock(event.topic):
            self._held.setdefault(event.topic, {})[key] = (event.id, frame)
            if self._flush is None:
                self._flush = asyncio.get_running_loop().call_later(self.crowd_seconds, self._hand_held)
            return
        held = self._held
        for subscriber in list(watchers):
            if held and subscriber.stock_topics:
                self._hand_held(subscriber)  # lower ids first
            subscriber.offer(event.id, event.topic, frame, key)

    def _hand_held(self, only: Subscriber | None = None) -> None:
        """What is held for crowds, in id order: to every watcher (the timer), or to `only` ahead of a later
        event of another topic; the timer's round then finds it seen and skips it."""
        if only is None:
            self._flush = None
            held, self._held = self._held, {}
        else:
            held = {topic: self._held[topic] for topic in only.stock_topics if topic in self._held}
        events = [(event_id, topic, key, frame) for topic, latest in held.items() for key, (event_id, frame) in
                  latest.items()]  # fmt: skip
        for event_id, topic, key, frame in sorted(events, key=itemgetter(0)):
            for subscriber in [only] if only is not None else list(self._topics.get(topic, ())):
                subscriber.offer(event_id, topic, frame, key)
