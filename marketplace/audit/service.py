"""Reading the audit log: one function for the JSON API and the admin desk's page."""

from __future__ import annotations

import asyncpg

from marketplace.audit import queries as q
from marketplace.audit.schemas import AuditEntry
from marketplace.core.paging import Page, fetch_page


async def entries(
    db: asyncpg.Pool,
    *,
    before: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    limit: int = 50,
) -> Page[AuditEntry]:
    """A page of entries newest first, older than `before` (an entry id) when given; `limit` of them at most."""
    return await fetch_page(
        db, q.LIST_AUDIT, before, object_type, object_id, actor_id, action, limit=limit,
        convert=lambda r: AuditEntry(**dict(r)),
    )  # fmt: skip
