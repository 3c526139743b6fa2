"""HTTP routes of notifications: /me/notifications (the in-app list, read marks, email preferences) and the
unsubscribe link mailed with every optional notification."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.auth import AuthedRequest
from marketplace.core.deps import AppState
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.notifications import service
from marketplace.notifications.schemas import NotificationOut, Preferences, ReadAll, Unsubscribed

Token = Annotated[str, QueryParameter(min_length=10, max_length=200, description="The token of the mailed link")]


class MyNotificationsController(Controller):
    path = "/me/notifications"
    tags = ["notifications"]

    @get("/", summary="My notifications, newest first")
    async def listing(
        self,
        state: AppState,
        request: AuthedRequest,
        unread: Annotated[bool, QueryParameter(description="Only those not read yet")] = False,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[NotificationOut]:
        return await service.listing(state.db, request.user.id, unread, cursor, limit)

    @post("/{notification_id:int}/read", status_code=200, summary="Mark a notification read")
    async def mark_read(
        self, state: AppState, request: AuthedRequest, notification_id: FromPath[int]
    ) -> NotificationOut:
        return await service.mark_read(state.db, request.user.id, notification_id)

    @post("/read-all", status_code=200, summary="Mark all my notifications read")
    async def mark_all_read(self, state: AppState, request: AuthedRequest) -> ReadAll:
        return await service.mark_all_read(state.db, request.user.id)

    @get("/preferences", summary="Which kinds of notification I get by email")
    async def preferences(self, state: AppState, request: AuthedRequest) -> Preferences:
        return await service.preferences(state.db, request.user.id)

    @put("/preferences", summary="Turn email of some kinds on or off (the in-app list keeps them all)")
    async def set_preferences(
        self, state: AppState, request: AuthedRequest, data: JSONBody[Preferences]
    ) -> Preferences:
        return await service.set_preferences(state.db, request.user.id, data)


class UnsubscribeController(Controller):
    path = "/notifications/unsubscribe"
    tags = ["notifications"]

    # GET for the link in the mail, POST for mail clients' one-click unsubscribe (RFC 8058); both only turn
    # one kind of mail off, so a link scanner following it does no harm the user cannot undo.
    @get("/", exclude_from_auth=True, summary="Stop one kind of email (the link in every notification mail)")
    async def by_link(self, state: AppState, token: Token) -> Unsubscribed:
        return await service.unsubscribe(state.db, state.settings.secret_key, token)

    @post("/", exclude_from_auth=True, status_code=200, summary="One-click unsubscribe (RFC 8058)")
    async def one_click(self, state: AppState, token: Token) -> Unsubscribed:
        return await service.unsubscribe(state.db, state.settings.secret_key, token)
