"""Access tokens (short-lived signed JWTs) and refresh tokens (random, stored hashed, rotated on use)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar.security.jwt import Token

from marketplace.accounts import queries as q
from marketplace.accounts.schemas import TokenPair
from marketplace.core.auth import ALGORITHM, CheckedToken
from marketplace.core.errors import Unauthorized
from marketplace.core.events import access_changed


def token_digest(token: str) -> bytes:
    """How a random secret token (a refresh token, a mailed link's) is stored: its SHA-256, never itself."""
    return hashlib.sha256(token.encode()).digest()


def access_token(user_id: int, secret: str, minutes: int, family: uuid.UUID | None = None) -> str:
    """`family` ties the token to its login session, so revoking the session revokes it too
    (`core.auth.LOAD_CALLER`)."""
    now = datetime.now(UTC)
    extras = {"fam": str(family)} if family is not None else {}
    token = Token(sub=str(user_id), exp=now + timedelta(minutes=minutes), iat=now, jti=uuid.uuid4().hex, extras=extras)
    return token.encode(secret, ALGORITHM)


def decode_access(encoded: str, secret: str) -> Token:
    return CheckedToken.decode(encoded, secret, ALGORITHM)


async def issue_pair(
    conn: asyncpg.Connection,
    user_id: int,
    secret: str,
    access_minutes: int,
    refresh_days: int,
    family: uuid.UUID | None = None,
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=refresh_days)
    family = family or uuid.uuid4()
    await conn.execute(q.INSERT_REFRESH, token_digest(refresh), user_id, family, expires)
    return TokenPair(
        access_token=access_token(user_id, secret, access_minutes, family),
        refresh_token=refresh,
        expires_in=access_minutes * 60,
    )


async def rotate(
    conn: asyncpg.Connection, refresh_token: str, secret: str, access_minutes: int, refresh_days: int
) -> TokenPair:
    """Exchange a refresh token for a new pair. Presenting a token that was already rotated means it
    leaked (or a client replayed it): the whole family is revoked, and its holder must log in again."""
    async with conn.transaction():
        row = await conn.fetchrow(q.REFRESH_FOR_UPDATE, token_digest(refresh_token))
        if row is None:
            raise Unauthorized("unknown refresh token")
        reused = row["revoked_at"] is not None
        if reused:
            # Committed before answering: raising inside the block would roll the revocation back.
            await conn.execute(q.REVOKE_FAMILY, row["family"])
            await access_changed(conn, row["user_id"], "session revoked")
        elif row["expires_at"] <= datetime.now(UTC) or row["status"] != "active":
            raise Unauthorized("refresh token expired")
        else:
            await conn.execute(q.REVOKE_REFRESH, token_digest(refresh_token))
            return await issue_pair(conn, row["user_id"], secret, access_minutes, refresh_days, row["family"])
    raise Unauthorized("refresh token was already used; please log in again")


async def end_session(
    conn: asyncpg.Connection, user_id: int, family: uuid.UUID | None, refresh_token: str | None
) -> None:
    """Logout: the session's whole refresh family (and so its access tokens), and the refresh token given,
    if it is the caller's; the caller's open sockets are told to re-check."""
    async with conn.transaction():
        if refresh_token:
            await conn.execute(q.REVOKE_OWN_REFRESH, token_digest(refresh_token), user_id)
        if family is not None:
            await conn.execute(q.REVOKE_OWN_FAMILY, family, user_id)
        await access_changed(conn, user_id, "signed out")
