"""Shared response cache for what buyers read most (search pages and product pages), in Redis.

Entries are tagged with the catalog generation read *before* the database was queried; any write that
changes what buyers may see (listing, unlisting, take-down, price, vendor suspension, categories) bumps the
generation after it commits. A reader that raced with a write therefore stored its entry under the old
generation, and the next reader ignores it. Stock figures are not part of the generation: they may lag by
the entry's time to live, and checkout always checks stock in PostgreSQL.

Redis being down never fails a request here: readers go to PostgreSQL (`X-Cache: bypass`), and a write
whose bump is lost still answers; entries written before the outage then live at most their time to live.

Readers in one turn of the event loop share one MGET of the generation and all their keys: under load a
cached page costs a share of one round trip instead of one of its own (the round trip through redis-py was
most of a cached page's time). The MGET is sent after every reader in it arrived, so a reader still sees
every bump that finished before it came."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketplace.core.outage import Outage

GENERATION_KEY = "catalog:generation"
JSON = "application/json"
_outage = Outage("catalog cache")  # logs the outage and the recovery once, not once per request


class _Reads:
    """The cache lookups of one turn of the event loop, sent together as one MGET."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, asyncio.Future[tuple[bytes | None, bytes | None]]]] = []
        self.sending: set[asyncio.Task[None]] = set()  # referenced until done

    def get(self, redis: Redis, key: str) -> asyncio.Future[tuple[bytes | None, bytes | None]]:
        """(generation, entry) for `key`, from the MGET of this turn."""
        loop = asyncio.get_running_loop()
        if not self.pending:  # the first reader of this turn; the task starts once the turn is over
            task = loop.create_task(self._send(redis))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)
        future = loop.create_future()
        self.pending.append((key, future))
        return future

    async def _send(self, redis: Redis) -> None:
        batch, self.pending = self.pending, []
        try:
            generation, *entries = await redis.mget(GENERATION_KEY, *(key for key, _ in batch))
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # each reader gets it as its own (a RedisError: they read PostgreSQL)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), entry in zip(batch, entries, strict=True):
            if not future.done():  # its reader may have gone (a client that hung up)
                future.set_result((generation, entry))


_reads: weakref.WeakKeyDictionary[Redis, _Reads] = weakref.WeakKeyDictionary()


async def cached_json(redis: Redis, key: str, ttl: int, produce: Callable[[], Awaitable[bytes]]) -> Response[Any]:
    """The JSON body under `key`, produced (and stored for `ttl` seconds) when missing or stale."""
    if ttl <= 0:
        return Response(await produce(), media_type=JSON)
    reads = _reads.get(redis) or _reads.setdefault(redis, _Reads())
    try:
        generation, entry = await reads.get(redis, key)
    except RedisError as error:
        _outage.failed(error)
        return Response(await produce(), media_type=JSON, headers={"X-Cache": "bypass"})
    _outage.recovered()
    generation = generation or b"0"
    if entry is not None:
        stored_generation, _, body = entry.partition(b"|")
        if stored_generation == generation:
            return Response(body, media_type=JSON, headers={"X-Cache": "hit"})
    body = await produce()
    with contextlib.suppress(RedisError):  # a lost write costs the next reader a query, nothing more
        await redis.set(key, generation + b"|" + body, ex=ttl)
    return Response(body, media_type=JSON, headers={"X-Cache": "miss"})


async def bump_generation(redis: Redis) -> None:
    try:
        await redis.incr(GENERATION_KEY)
    except RedisError as error:  # the write committed; its answer must not turn into an error now
        _outage.failed(error)


def catalog_generation_middleware(app: ASGIApp) -> ASGIApp:
    """Bumps the generation after a successful write by any handler declaring `opt={"changes_catalog": True}`.

    The response is held back until the bump is done, so a client that reads right after its own write
    never gets the cached page from before it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD")
            or handler is None
            or not handler.opt.get("changes_catalog")
        ):
            await app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await app(scope, receive, hold)
        finally:
            status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
            if status < 400:
                await bump_generation(scope["litestar_app"].state.cache)
            for message in held:
                await send(message)

    return middleware
