"""The audit log: who did what to which object, with the object before and after."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

INSERT_AUDIT = """
INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after)
VALUES ($1, $2, $3, $4, $5, $6)
"""
# Fields sealed at rest (core/fields.py) are not copied into the log in clear: the log says they changed.
SEALED_FIELDS = frozenset(
    {
        "phone",
        "contact_phone",
        "licence_number",
        "payout_account",
        "totp_secret",
        "recipient",
        "line1",
        "line2",
        "postal_code",
    }
)


async def record_audit(
    conn: asyncpg.Connection,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append to the audit log in the caller's transaction, so a decision and its record commit together.
    `before` and `after` may be dicts or msgspec structs; they are stored as JSON objects."""
    await conn.execute(INSERT_AUDIT, actor_id, action, object_type, str(object_id), _as_json(before), _as_json(after))


def _as_json(value: Any) -> Any:
    if value is None:
        return None
    data = msgspec.to_builtins(value)
    if isinstance(data, dict):
        return {k: "[sealed]" if k in SEALED_FIELDS and v else v for k, v in data.items()}
    return data
