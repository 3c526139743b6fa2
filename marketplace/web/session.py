"""Who is browsing: a page session in cookies, carrying the same identity as the API's tokens.

Signing in through a page is an ordinary login (`accounts.service.login`): its access token (a JWT naming
its refresh family) and its refresh token are kept in HttpOnly, SameSite=Lax cookies (Secure over https),
instead of in a client's memory. Every page request checks the access token and loads the caller fresh
(`core.auth.load_caller`, so logout elsewhere, a revoked family or a disabled account ends the page session
too); once the access token has expired, the refresh token renews both. A browser sends several requests at
once (a page and its fragments, several tabs): the first to renew rotates the refresh token and leaves the
new pair in Redis for a few seconds, and the others take that pair instead of presenting the old refresh
token again, which the accounts service would rightly treat as reuse and revoke the whole family.

`sid` is a random id for the browser (anonymous or not): the CSRF token is derived from it and from the
login session's family (csrf.py), and anonymous browsing is attributed to it (`core.caller`).

The middleware here resolves the visitor once per page request and adds the cookies it changed to
whatever response the page returns."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import secrets
import uuid
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token
from redis.exceptions import RedisError

from marketplace.accounts import service as accounts
from marketplace.accounts.schemas import TokenPair
from marketplace.accounts.tokens import decode_access
from marketplace.core.auth import CurrentUser, load_caller, token_family
from marketplace.core.errors import DomainError, Unauthorized

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from marketplace.core.deps import AppState

ACCESS_COOKIE = "mp_access"
REFRESH_COOKIE = "mp_refresh"
SESSION_COOKIE = "sid"  # the browser's id; core/caller.py reads it to attribute anonymous browsing
SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
SESSION_DAYS = 365
RENEWED_SECONDS = 30  # how long a renewed pair stays for the requests that raced the renewal
SCOPE_KEY = "marketplace.visitor"


@dataclass
class Visitor:
    """The browser behind a page request: the signed-in caller (or None), its access token, and the session
    id and CSRF token of its pages; `cookies` are what the response must set."""

    user: CurrentUser | None
    token: Token | None
    sid: str
    secure: bool
    secret: str
    cookies: list[Cookie] = field(default_factory=list)

    @property
    def csrf(self) -> str:
        return csrf_token(self.secret, self.sid, token_family(self.token) if self.token else None)


def csrf_token(secret: str, sid: str, family: uuid.UUID | None) -> str:
    """The CSRF token of a browser session (csrf.py): tied to its id and to its login session, if any."""
    mac = hmac.new(secret.encode(), f"csrf|{sid}|{family or ''}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(mac[:24]).decode()


def visitor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Visitor:
    return connection.scope[SCOPE_KEY]  # type: ignore[typeddict-item]


def signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """The signed-in caller of a page that needs one; anyone else is sent to sign in first (the web router
    answers Unauthorized with a redirect to /login that comes back here)."""
    user = visitor_of(connection).user
    if user is None:
        raise Unauthorized("sign in first")
    return user


def is_secure(connection: ASGIConnection[Any, Any, Any, Any], public_url: str) -> bool:
    """Cookies get the Secure flag when this request came over https (directly, or as the proxy in front
    says when uvicorn trusts it), or when the app's public address is https."""
    return connection.url.scheme in ("https", "wss") or public_url.startswith("https://")


def _cookie(name: str, value: str, max_age: int, secure: bool) -> Cookie:
    return Cookie(key=name, value=value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure)


def _expired(name: str, secure: bool) -> Cookie:
    return Cookie(key=name, value="", max_age=0, path="/", httponly=True, samesite="lax", secure=secure)


def sign_in(visitor: Visitor, pair: TokenPair, state: AppState) -> None:
    """Keep a fresh login's (or a renewal's) tokens in the browser's cookies."""
    settings = state.settings
    visitor.cookies += [
        _cookie(ACCESS_COOKIE, pair.access_token, settings.access_token_minutes * 60, visitor.secure),
        _cookie(REFRESH_COOKIE, pair.refresh_token, settings.refresh_token_days * 86_400, visitor.secure),
    ]
    visitor.token = decode_access(pair.access_token, settings.secret_key)


def _forget_tokens(visitor: Visitor) -> None:
    visitor.user = visitor.token = None
    visitor.cookies += [_expired(ACCESS_COOKIE, visitor.secure), _expired(REFRESH_COOKIE, visitor.secure)]


def sign_out(visitor: Visitor) -> None:
    """Forget the tokens, and give the browser a new session id (so a new CSRF token too)."""
    _forget_tokens(visitor)
    visitor.sid = secrets.token_urlsafe(18)
    visitor.cookies.append(_cookie(SESSION_COOKIE, visitor.sid, SESSION_DAYS * 86_400, visitor.secure))


_PAIR = msgspec.json.Decoder(TokenPair)


async def _renew(state: AppState, refresh_token: str) -> TokenPair | None:
    """A new pair for this refresh token, rotating it once however many requests ask at the same moment."""
    key = "web:renewed:" + hashlib.sha256(refresh_token.encode()).hexdigest()[:40]
    redis = state.redis
    try:
        if stored := await redis.get(key):
            return _PAIR.decode(stored)
        if not await redis.set(key + ":lock", "1", nx=True, ex=10):
            for _ in range(60):  # another request is renewing it: take its result
                await asyncio.sleep(0.05)
                if stored := await redis.get(key):
                    return _PAIR.decode(stored)
            return None
    except RedisError:
        pass  # without Redis, renew directly: only requests racing this one could lose their session
    try:
        pair = await accounts.refresh(state.db, state.settings, refresh_token)
    except DomainError:
        return None  # expired, revoked or already used: signed out
    with contextlib.suppress(RedisError):
        await redis.set(key, msgspec.json.encode(pair), ex=RENEWED_SECONDS)
    return pair


async def resolve(connection: ASGIConnection[Any, Any, Any, Any]) -> Visitor:
    """The visitor from the request's cookies, renewing its access token when it has expired."""
    state: AppState = connection.app.state  # type: ignore[assignment]
    settings = state.settings
    cookies = connection.cookies
    secure = is_secure(connection, settings.public_url)
    sid = cookies.get(SESSION_COOKIE, "")
    visitor = Visitor(None, None, sid, secure, settings.secret_key)
    if not SESSION_PATTERN.fullmatch(sid):
        visitor.sid = secrets.token_urlsafe(18)
        visitor.cookies.append(_cookie(SESSION_COOKIE, visitor.sid, SESSION_DAYS * 86_400, secure))
    access, refresh = cookies.get(ACCESS_COOKIE), cookies.get(REFRESH_COOKIE)
    if access:
        try:
            visitor.token = decode_access(access, settings.secret_key)
        except NotAuthorizedException:  # expired (renewed below if it can be) or forged
            visitor.cookies.append(_expired(ACCESS_COOKIE, secure))
    if visitor.token is None and refresh:
        pair = await _renew(state, refresh)
        if pair is None:  # expired, revoked or reused: signed out
            _forget_tokens(visitor)
            return visitor
        sign_in(visitor, pair, state)
    if visitor.token is not None:
        visitor.user = await load_caller(visitor.token, connection)
        if visitor.user is None:  # signed out elsewhere, session revoked or account disabled
            _forget_tokens(visitor)
    return visitor


def from_this_site(connection: ASGIConnection[Any, Any, Any, Any], public_url: str) -> bool:
    """Whether a request (a WebSocket handshake) comes from a page of this site: its `Origin` is the address
    it was sent to, or the app's public address. Browsers send cookies with a WebSocket handshake from any
    page, and the same-origin policy does not apply to it, so the session cookie counts only when this holds
    (else another site's page could open the visitor's feed: cross-site WebSocket hijacking)."""
    origin = connection.headers.get("origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme)
    own = urlsplit(public_url)
    if parts.netloc == connection.headers.get("host") and scheme in (connection.url.scheme, None):
        return True
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)


def session_middleware(app: ASGIApp) -> ASGIApp:
    """Resolves the visitor before the page runs and sets the cookies it changed on the response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        visitor = await resolve(ASGIConnection(scope, receive))
        scope[SCOPE_KEY] = visitor  # type: ignore[literal-required]

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and visitor.cookies:
                headers = list(message.get("headers") or [])
                headers += [cookie.to_encoded_header() for cookie in visitor.cookies]
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_cookies)

    return middleware
