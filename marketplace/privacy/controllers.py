"""HTTP routes of a person's own data: /me/export and /me/erase."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from marketplace.core.auth import AuthedRequest
from marketplace.core.deps import AppState
from marketplace.privacy import service
from marketplace.privacy.schemas import EraseIn


class MyDataController(Controller):
    path = "/me"
    tags = ["me"]

    @get(
        "/export",
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

    @post(
        "/erase",
        status_code=204,
        summary="Erase my account: personal data deleted, orders and payments kept anonymously for accounting",
    )
    async def erase(self, state: AppState, request: AuthedRequest, data: JSONBody[EraseIn]) -> None:
        await service.erase(state.db, state.settings, request.user.id, data.password)
