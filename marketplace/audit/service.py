"""Reading the audit log: one function for the JSON API and the admin desk's page."""

from __future__ import annotations

import asyncpg

from marketplace.audit import queries as q
from marketplace.audit.schemas import AuditEntry


async def entries(
    db: asyncpg.Pool,
    *,
    before: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Entries newest first, older than `before` (an entry id) when given; `limit` of them at most."""
    rows = await db.fetch(q.LIST_AUDIT, before, object_type, object_id, actor_id, action, limit)
    return [AuditEntry(**dict(r)) for r in rows]
