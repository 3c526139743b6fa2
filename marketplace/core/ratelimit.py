"""Fixed-window rate limits in Redis, so a limit holds across every worker and machine."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from marketplace.core.errors import TooManyRequests


async def hit(redis: Redis, key: str, limit: int, window_seconds: int) -> None:
    """Count one attempt under `key`; raise 429 with Retry-After once `limit` is exceeded in the window."""
    window = int(time.time()) // window_seconds
    redis_key = f"ratelimit:{key}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_seconds + 1)
        count, _ = await pipe.execute()
    if count > limit:
        retry_after = window_seconds - int(time.time()) % window_seconds
        raise TooManyRequests("too many attempts; try again later", retry_after=retry_after)
