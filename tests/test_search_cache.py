"""The page cache's reads of one event-loop turn travel as one MGET: every reader still gets its own entry,
sees a generation bumped before it asked, and falls back to producing the page when Redis fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from marketplace.core.cache import bump_generation, cached_json
from marketplace.core.redis_pool import redis_client


def page(n: int) -> Callable[[], Awaitable[bytes]]:
    async def produce() -> bytes:
        return b'{"n": %d}' % n

    return produce


async def test_readers_in_one_turn_share_an_mget_and_each_get_their_own_page(redis_url: str) -> None:
    redis = redis_client(redis_url)
    calls = 0
    original = redis.mget

    async def counted(*keys: str) -> list[bytes | None]:
        nonlocal calls
        calls += 1
        return await original(*keys)

    redis.mget = counted  # type: ignore[method-assign]
    try:
        first = await asyncio.gather(*(cached_json(redis, f"page:test:{n}", 30, page(n)) for n in range(20)))
        assert [r.headers["X-Cache"] for r in first] == ["miss"] * 20
        assert calls == 1
        again = await asyncio.gather(*(cached_json(redis, f"page:test:{n}", 30, page(-1)) for n in range(20)))
        assert [(r.headers["X-Cache"], r.content) for r in again] == [("hit", b'{"n": %d}' % n) for n in range(20)]
        assert calls == 2
        await bump_generation(redis)  # a catalog write that finished before the next readers came
        fresh = await asyncio.gather(*(cached_json(redis, f"page:test:{n}", 30, page(n + 100)) for n in range(3)))
        assert [(r.headers["X-Cache"], r.content) for r in fresh] == [
            ("miss", b'{"n": %d}' % (n + 100)) for n in range(3)
        ]
    finally:
        await redis.aclose()


async def test_readers_produce_the_page_when_redis_fails() -> None:
    redis = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens there

    async def produce() -> bytes:
        return b"{}"

    try:
        answers = await asyncio.gather(*(cached_json(redis, f"page:test:{n}", 30, produce) for n in range(5)))
        assert [(r.headers["X-Cache"], r.content) for r in answers] == [("bypass", b"{}")] * 5
    finally:
        await redis.aclose()
