"""Redis clients for the app, its workers and the commands, all built alike."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def redis_client(url: str, **options: bool) -> Redis:
    """A client whose pool makes a burst of callers wait for a connection (up to 5 s) instead of failing:
    redis-py's default pool raises "Too many connections" once its limit is reached."""
    return Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=64, timeout=5, **options))
