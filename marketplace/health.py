"""GET /health: is this process able to reach PostgreSQL and Redis, and how are its live feed's hub and relay?

The status (200 or 503) follows PostgreSQL and Redis only: the feed's parts retry by themselves (see
core/outage.py) and are reported for the operator to read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from litestar import Response, get
from litestar.openapi import ResponseSpec
from msgspec import Struct

from marketplace.core.deps import AppState

CHECK_TIMEOUT_SECONDS = 2.0


class Health(Struct):
    status: str
    postgres: str
    redis: str
    feed_hub: str  # "ok", or how long it has been down and why
    feed_relay: str  # "leading" or "standby" (one process leads), or how long it has been down and why


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return f"error: {type(exc).__name__}"


@get(
    "/health",
    exclude_from_auth=True,
    tags=["health"],
    summary="Liveness of PostgreSQL and Redis",
    responses={503: ResponseSpec(Health, description="PostgreSQL or Redis is unreachable (status: degraded)")},
)
async def health(state: AppState) -> Response[Health]:
    postgres, redis_state = await asyncio.gather(_check(state.db.fetchval("SELECT 1")), _check(state.redis.ping()))
    ok = postgres == "ok" and redis_state == "ok"
    relay = state.relay
    feed_relay = relay.outage.state() if relay.outage.down else "leading" if relay.leading else "standby"
    body = Health("ok" if ok else "degraded", postgres, redis_state, state.hub.outage.state(), feed_relay)
    return Response(body, status_code=200 if ok else 503)
