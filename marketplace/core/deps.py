"""Dependencies every controller may ask for by name: `db`, `redis`, `settings`, `client_ip`."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from redis.asyncio import Redis

from marketplace.settings import Settings


def _db(state: State) -> asyncpg.Pool:
    return state.db


def _redis(state: State) -> Redis:
    return state.redis


def _settings(state: State) -> Settings:
    return state.settings


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


dependencies = {
    "db": Provide(_db, sync_to_thread=False),
    "redis": Provide(_redis, sync_to_thread=False),
    "settings": Provide(_settings, sync_to_thread=False),
    "client_ip": Provide(_client_ip, sync_to_thread=False),
}

# Annotations for handler parameters: `db: Db` asks for the pool by name.
Db = NamedDependency[asyncpg.Pool]
RedisClient = NamedDependency[Redis]
AppSettings = NamedDependency[Settings]
ClientIp = NamedDependency[str]
