"""What the audit log shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct


class AuditEntry(Struct):
    id: int
    actor_id: int | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime
