"""Who is calling: JWT access tokens checked on every request, the caller loaded fresh from PostgreSQL
(so a role change or a vendor suspension takes effect at once), and the guards routes declare."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from marketplace.core.errors import Forbidden, Unauthorized

ROLES = ("buyer", "vendor", "marketer", "support", "admin")

# A token from a login carries its session's refresh-token family (`fam`): once the family is revoked
# (logout, or a rotated refresh token presented again) no live refresh token is left in it, and the
# session's access tokens stop passing at once, in every worker.
LOAD_CALLER = """
SELECT u.id, u.roles, v.id AS vendor_id, v.status AS vendor_status
FROM users u LEFT JOIN vendors v ON v.user_id = u.id
WHERE u.id = $1 AND u.status = 'active'
  AND ($2::uuid IS NULL
       OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = $2 AND r.user_id = u.id AND r.revoked_at IS NULL))
"""


class CurrentUser(msgspec.Struct, frozen=True):
    id: int
    roles: tuple[str, ...]
    vendor_id: int | None = None
    vendor_status: str | None = None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def active_vendor_id(self) -> int | None:
        """The shop this caller may act for; None unless it is an approved vendor that is not suspended."""
        return self.vendor_id if self.has("vendor") and self.vendor_status == "active" else None


# What a handler behind the auth middleware receives: the caller and its decoded token.
AuthedRequest = Request[CurrentUser, Token, Any]


ALGORITHM = "HS256"


class CheckedToken(Token):
    """A token whose signature checks are remembered: every request of a session presents the same access
    token, and checking its signature again costs more than the rest of the authentication. The cache is
    keyed by the whole encoded token, signature included, so only a byte-identical token hits it, and an
    entry is honoured only until the token's expiry."""

    _checked: ClassVar[dict[tuple[str, str, str], Token]] = {}
    MAX_CHECKED: ClassVar[int] = 8192

    @classmethod
    def decode(cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any) -> Token:
        if args or any(kwargs.get(name) for name in ("audience", "issuer", "require_claims", "strict_audience")):
            return super().decode(encoded_token, secret, algorithm, *args, **kwargs)
        key = (encoded_token, secret, algorithm)
        token = cls._checked.get(key)
        if token is not None and token.exp > datetime.now(UTC):
            return token
        token = super().decode(encoded_token, secret, algorithm, **kwargs)
        if len(cls._checked) >= cls.MAX_CHECKED:
            cls._checked.clear()  # a crude bound: a full cache is rebuilt by the next requests
        cls._checked[key] = token
        return token


def token_family(token: Token) -> uuid.UUID | None:
    """The session (refresh-token family) an access token belongs to; None for tokens minted without one
    (operators' tools that hold the signing key)."""
    try:
        return uuid.UUID(token.extras["fam"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


async def load_caller(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    """The token's user, loaded fresh; None if the account is gone or disabled or the session was revoked."""
    try:
        user_id = int(token.sub)
    except ValueError:
        return None
    if not 0 < user_id < 2**63:
        return None
    family = token_family(token)
    if family is None and token.extras.get("fam") is not None:
        return None  # a malformed session claim is no session
    row = await connection.app.state.db.fetchrow(LOAD_CALLER, user_id, family)
    if row is None:
        return None
    return CurrentUser(row["id"], tuple(row["roles"]), row["vendor_id"], row["vendor_status"])


# A route with `exclude_from_auth` that can answer most callers from the token alone (a crowd turned away
# from a sold-out flash sale) checks the signature first and makes the middleware's other checks, a Redis
# and a database read, only for the callers it goes on to serve.
def bearer_token(request: Request[Any, Any, Any]) -> Token:
    """The request's access token, signature and expiry checked."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not encoded:
        raise Unauthorized("sign in first: send Authorization: Bearer <access token>")
    try:
        return CheckedToken.decode(encoded, request.app.state.settings.secret_key, ALGORITHM)
    except NotAuthorizedException:
        raise Unauthorized("the access token is invalid or has expired") from None


def token_user_id(token: Token) -> int:
    """The user a checked token names, from the token alone (no database read, so no logout or disabled
    account is noticed: `caller_of` does that); 401 if it names none."""
    try:
        return int(token.sub)
    except ValueError:
        raise Unauthorized("the access token is invalid or has expired") from None


async def caller_of(token: Token, request: Request[Any, Any, Any]) -> CurrentUser:
    """The token's user, loaded fresh, unless its session was revoked (logout) or the account is gone."""
    user = await load_caller(token, request)
    if user is None:
        raise Unauthorized("the access token is invalid or has expired")
    return user


def build_jwt_auth(secret: str, access_minutes: int) -> JWTAuth[CurrentUser]:
    return JWTAuth[CurrentUser](
        retrieve_user_handler=load_caller,
        token_secret=secret,
        token_cls=CheckedToken,
        algorithm=ALGORITHM,
        default_token_expiration=timedelta(minutes=access_minutes),
        exclude=["^/schema", "^/health", "^/static"],
        description="Access token from POST /auth/login, sent as `Authorization: Bearer <token>`.",
    )


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def requires_role(*roles: str) -> Guard:
    """Allow callers holding any of `roles`."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user: CurrentUser = connection.user
        if not any(user.has(role) for role in roles):
            raise Forbidden(f"this needs the {' or '.join(roles)} role")

    return guard


def requires_active_vendor(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    user: CurrentUser = connection.user
    if not user.has("vendor"):
        raise Forbidden("this needs an approved vendor account")
    if user.vendor_status != "active":
        raise Forbidden("this vendor account is suspended")


admin_only = requires_role("admin")
