"""What handlers reach through Litestar's `state` kwarg: the pool, Redis clients, settings, recorder.

Handlers take `state: AppState` rather than one injected dependency per resource: Litestar resolves
several dependencies of a handler in an anyio task group on every request, which costs more than the
rest of a cached page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
from litestar import Request
from litestar.datastructures import State
from redis.asyncio import Redis

from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.flash_sales.batch import PurchaseBatches
    from marketplace.flash_sales.gate import Gate
    from marketplace.interactions.recorder import InteractionRecorder
    from marketplace.payments.sandbox import SandboxGateway
    from realtime.hub import Hub
    from realtime.relay import Relay


class AppState(State):
    db: asyncpg.Pool
    redis: Redis  # str values
    cache: Redis  # bytes values, for cached responses
    settings: Settings
    recorder: InteractionRecorder
    gateway: SandboxGateway
    hub: Hub
    relay: Relay  # this process's feed relay (leading or standing by)
    gate: Gate
    flash_purchases: PurchaseBatches  # admitted flash purchases, written in batches
    callbacks: httpx.AsyncClient  # the sandbox gateway's HTTP client for its callbacks to our webhook


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"
