"""CSRF protection for pages: every unsafe request (POST, PUT, PATCH, DELETE) to a page route carries the
session's token, in the `csrf_token` form field or the `X-CSRF-Token` header (htmx sends the header, set
once on the page's body). The token (`session.csrf_token`) is an HMAC of the browser's session id and its
login session's refresh family, so it changes when the visitor signs in or out, and a page of another site
cannot know it.

Only page routes are guarded (the guard sits on the web router): the JSON API, authenticated by a bearer
header that a browser never adds on its own, needs no token."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from marketplace.core.errors import Forbidden
from marketplace.web.session import visitor_of

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    """An unsafe page request without the session's token: nothing was changed."""


async def csrf_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The web router's guard: refuses an unsafe request whose token is missing or wrong, before the page
    (and so any service) runs."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    sent = connection.headers.get(HEADER)
    if not sent:
        form = await Request(connection.scope, connection.receive).form()
        sent = form.get(FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, visitor_of(connection).csrf):
        raise CsrfRefused("this form has expired or did not come from this site; reload the page and try again")
