"""HTTP routes of a person's own data: /me/export."""

from __future__ import annotations

from litestar import Controller, Response, get

from marketplace.core.auth import AuthedRequest
from marketplace.core.deps import AppState
from marketplace.privacy import service


class MyDataController(Controller):
    path = "/me/export"
    tags = ["me"]

    @get(
        "/",
        summary="Everything the marketplace holds about me, as a zip of JSON and CSV files",
        media_type="application/zip",
    )
    async def export(self, state: AppState, request: AuthedRequest) -> Response[bytes]:
        name, archive = await service.export(state.db, request.user.id)
        return Response(
            archive,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
