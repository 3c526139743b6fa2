"""The audit log: who did what to which object, with the object before and after."""

from __future__ import annotations

from typing import Any

import asyncpg

INSERT_AUDIT = """
INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def record_audit(
    conn: asyncpg.Connection,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append to the audit log in the caller's transaction, so a decision and its record commit together."""
    await conn.execute(INSERT_AUDIT, actor_id, action, object_type, str(object_id), before, after)
