"""HTTP routes of account self-service: changing the password, the sessions list, changing the email address."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from marketplace.accounts import email_change, service, sessions
from marketplace.accounts.schemas import (
    EmailChangeConfirmIn,
    EmailChangeIn,
    PasswordChangeIn,
    SessionOut,
    SessionsEnded,
    UserOut,
)
from marketplace.core.auth import AuthedRequest, token_family
from marketplace.core.deps import AppState, client_ip


class AccountSecurityController(Controller):
    path = "/"
    tags = ["profile"]

    @post(
        "/me/password",
        status_code=204,
        summary="Change my password (the current one required); every other session ends, with its sockets",
    )
    async def change_password(self, state: AppState, request: AuthedRequest, data: JSONBody[PasswordChangeIn]) -> None:
        await sessions.change_password(
            state.db, state.redis, state.settings, request.user.id, token_family(request.auth),
            data.current_password, data.new_password, client_ip(request),
        )  # fmt: skip

    @get("/me/sessions", summary="My signed-in sessions, most recently used first (`current`: this one)")
    async def sessions(self, state: AppState, request: AuthedRequest) -> list[SessionOut]:
        return await sessions.list_sessions(state.db, request.user.id, token_family(request.auth))

    @delete("/me/sessions/{session_id:uuid}", summary="End one of my sessions: its tokens and open sockets")
    async def end_session(self, state: AppState, request: AuthedRequest, session_id: FromPath[uuid.UUID]) -> None:
        await sessions.end_session(state.db, request.user.id, session_id)

    @post("/me/sessions/end-others", status_code=200, summary="Sign out everywhere but this session")
    async def end_other_sessions(self, state: AppState, request: AuthedRequest) -> SessionsEnded:
        ended = await sessions.end_other_sessions(state.db, request.user.id, token_family(request.auth))
        return SessionsEnded(ended=ended)

    @post(
        "/me/email",
        status_code=202,
        summary="Change my email address: mails a link to the new one (the password required); nothing changes "
        "until it is used",
    )
    async def request_email_change(
        self, state: AppState, request: AuthedRequest, data: JSONBody[EmailChangeIn]
    ) -> None:
        await email_change.request_change(
            state.db, state.redis, state.settings, request.user.id, data.new_email, data.password, client_ip(request)
        )

    @post(
        "/auth/email-change/confirm",
        exclude_from_auth=True,
        status_code=200,
        summary="Use the mailed link: the account's email becomes the new address (single use)",
    )
    async def confirm_email_change(
        self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[EmailChangeConfirmIn]
    ) -> UserOut:
        user_id = await email_change.confirm_change(
            state.db, state.redis, state.settings, data.token, client_ip(request)
        )
        return await service.get_user(state.db, user_id)
