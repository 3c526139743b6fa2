"""GET /health: is this process able to reach PostgreSQL and Redis?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from litestar import Response, get
from msgspec import Struct

from marketplace.core.deps import AppState

CHECK_TIMEOUT_SECONDS = 2.0


class Health(Struct):
    status: str
    postgres: str
    redis: str


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:  # any failure means "not healthy", reported rather than raised
        return f"error: {type(exc).__name__}"


@get("/health", exclude_from_auth=True, tags=["health"], summary="Liveness of PostgreSQL and Redis")
async def health(state: AppState) -> Response[Health]:
    postgres, redis_state = await asyncio.gather(_check(state.db.fetchval("SELECT 1")), _check(state.redis.ping()))
    ok = postgres == "ok" and redis_state == "ok"
    return Response(Health("ok" if ok else "degraded", postgres, redis_state), status_code=200 if ok else 503)
