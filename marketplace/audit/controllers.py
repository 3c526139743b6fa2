"""GET /admin/audit: the audit log, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from marketplace.audit import service
from marketplace.audit.schemas import AuditEntry
from marketplace.core.auth import admin_only
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page

Filter = Annotated[str | None, QueryParameter(max_length=100)]


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
        return await service.entries(
            state.db, before=cursor, object_type=object_type, object_id=object_id, actor_id=actor_id,
            action=action, limit=limit,
        )  # fmt: skip
