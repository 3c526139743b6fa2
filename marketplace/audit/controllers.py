"""GET /admin/audit: the audit log, filtered and paged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import QueryParameter
from msgspec import Struct

from marketplace.audit import queries as q
from marketplace.core.auth import admin_only
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page, page_of

Filter = Annotated[str | None, QueryParameter(max_length=100)]


class AuditEntry(Struct):
    id: int
    actor_id: int | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class AuditController(Controller):
    path = "/admin/audit"
    tags = ["admin"]
    guards = [admin_only]

    @get("/", summary="Audit log, newest first")
    async def entries(
        self,
        state: AppState,
        object_type: Filter = None,
        object_id: Filter = None,
        actor_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        action: Filter = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> Page[AuditEntry]:
        rows = await state.db.fetch(q.LIST_AUDIT, cursor, object_type, object_id, actor_id, action, limit + 1)
        return page_of([AuditEntry(**dict(r)) for r in rows], limit)
