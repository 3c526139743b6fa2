"""Who is browsing a public page: a signed-in buyer (if a valid token came along) or an anonymous
session id. Public routes skip the auth middleware, so this reads the token itself; it only attributes
interactions and never grants access."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException

from marketplace.core.auth import ALGORITHM, CheckedToken

SESSION_HEADER = "x-session-id"
SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")


def browsing_identity(request: Request[Any, Any, Any], secret: str) -> tuple[int | None, str | None]:
    user_id: int | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        try:
            user_id = int(CheckedToken.decode(auth[7:], secret, ALGORITHM).sub)
        except (NotAuthorizedException, ValueError):
            user_id = None
    session = request.headers.get(SESSION_HEADER) or request.cookies.get("sid")
    if session and not SESSION_PATTERN.match(session):
        session = None
    return user_id, session
