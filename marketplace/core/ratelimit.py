"""Rate limits in Redis, so a limit holds across every worker and machine: fixed windows (`hit`), and delays
that double with each failure to prove a secret (`attempt`, `forget`).

With Redis unreachable, windows let requests through (they shed load; refusing everyone would be the larger
harm), while `attempt` fails closed with 503: guessing a password or a code is never left unthrottled."""

from __future__ import annotations

import math
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from marketplace.core.errors import TooManyRequests
from marketplace.core.outage import Outage

_outage = Outage("rate limit windows")


async def hit(redis: Redis, key: str, limit: int, window_seconds: int) -> None:
    """Count one attempt under `key`; raise 429 with Retry-After once `limit` is exceeded in the window."""
    window = int(time.time()) // window_seconds
    redis_key = f"ratelimit:{key}:{window}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(redis_key)
            pipe.expire(redis_key, window_seconds + 1)
            count, _ = await pipe.execute()
    except RedisError as error:
        _outage.failed(error)  # logged once per outage
        return
    _outage.recovered()
    if count > limit:
        retry_after = window_seconds - int(time.time()) % window_seconds
        raise TooManyRequests("too many attempts; try again later", retry_after=retry_after)


# Failures are forgotten this long after the last delay ends.
FAILURES_REMEMBERED_SECONDS = 86_400

# KEYS[1]: the failures under one key; ARGV: free failures, first delay, longest delay, memory (ms). Returns the
# milliseconds still to wait, or 0 when the attempt may go ahead (then counted as a failure until `forget`).
_ATTEMPT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local wait = (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) - now
if wait > 0 then return wait end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local delay = 0
if failures >= tonumber(ARGV[1]) then
    delay = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - tonumber(ARGV[1])))
    redis.call('HSET', KEYS[1], 'until', now + delay)
end
redis.call('PEXPIRE', KEYS[1], delay + tonumber(ARGV[4]))
return 0
"""


async def attempt(redis: Redis, key: str, free: int, delay_seconds: float, max_delay_seconds: float) -> None:
    """One attempt to prove a secret (a password, a two-factor code) under `key`: the first `free` failures are
    answered at once; after that each attempt waits for a delay that doubles with every failure (`delay_seconds`,
    twice that, ... up to `max_delay_seconds`), and an attempt during the delay is refused with 429 and
    Retry-After without being counted. The attempt counts as a failure until `forget` is called on success,
    so concurrent guesses cannot slip past the count."""
    args = [free, round(delay_seconds * 1000), round(max_delay_seconds * 1000), FAILURES_REMEMBERED_SECONDS * 1000]
    wait_ms = await redis.register_script(_ATTEMPT)(keys=[f"failures:{key}"], args=args)
    if wait_ms > 0:
        retry_after = math.ceil(wait_ms / 1000)
        raise TooManyRequests(f"too many failed attempts; try again in {retry_after} s", retry_after=retry_after)


async def forget(redis: Redis, key: str) -> None:
    """The secret was proved: the failures under `key` no longer count."""
    await redis.delete(f"failures:{key}")
