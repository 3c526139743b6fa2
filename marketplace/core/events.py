"""The outbox: services append events inside their own transaction, so an event exists exactly when
the change it describes was committed. The real-time relay publishes them in id order."""

from __future__ import annotations

from typing import Any

import asyncpg

from marketplace.core import topics

INSERT_EVENT = """
INSERT INTO events (topic, type, payload) VALUES ($1, $2, $3)
RETURNING id
"""


async def append_event(conn: asyncpg.Connection, topic: str, type_: str, payload: dict[str, Any]) -> int:
    """Record an event in the caller's transaction and return its id.

    `topic` names who may watch it (`vendor:12:orders`, `user:7`, `product:55:stock`), `type` what happened
    (`order.placed`). Must be called inside a transaction: an event outside one could describe a change
    that is later rolled back.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("append_event must run inside the transaction that makes the change")
    return await conn.fetchval(INSERT_EVENT, topic, type_, payload)


INSERT_EVENTS = """
INSERT INTO events (topic, type, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
"""


async def append_events(conn: asyncpg.Connection, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Several events in one round trip, in the given order (same rules as `append_event`)."""
    if not conn.is_in_transaction():
        raise RuntimeError("append_events must run inside the transaction that makes the change")
    if events:
        topics, types, payloads = zip(*events, strict=True)
        await conn.execute(INSERT_EVENTS, list(topics), list(types), list(payloads))


async def access_changed(conn: asyncpg.Connection, user_id: int, reason: str) -> None:
    """Record, in the transaction that changes it, that what `user_id` may do or watch has changed (signed
    out, session revoked, vendor suspended, roles changed): every worker's sockets of that user re-check."""
    await append_event(conn, topics.user_access(user_id), "access.changed", {"user_id": user_id, "reason": reason})
