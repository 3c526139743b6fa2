"""Account self-service: a user's login sessions and their password.

A session is a refresh-token family (tokens.py): it begins at sign-in, each renewal adds a token to it, and its
access tokens pass only while it holds a live refresh token (core.auth.LOAD_CALLER). Ending a session revokes its
family, so its access tokens fail on their next request in every worker, and emits `access.changed`, so its open
sockets re-check and close with 1008 within moments (realtime/feed.py). What client signed in is recorded once,
at sign-in (`record_client`), for the session list.

Changing the password needs the current one (a wrong one counts like a failed login from this IP) and ends every
other session; the session that changed it goes on.
"""

from __future__ import annotations

import uuid

import asyncpg
from redis.asyncio import Redis

from marketplace.accounts import queries as q
from marketplace.accounts.passwords import check_strength, hash_password, hasher_of, verify_password
from marketplace.accounts.recovery import RESET
from marketplace.accounts.schemas import SessionOut
from marketplace.accounts.tokens import token_digest
from marketplace.core import fields, topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from marketplace.core.events import access_changed
from marketplace.core.ratelimit import attempt, forget
from marketplace.notifications import Kind
from marketplace.notifications.service import queue_account_mail
from marketplace.settings import Settings

MAX_SESSIONS_LISTED = 100
USER_AGENT_CHARS = 300


async def record_client(db: asyncpg.Pool, refresh_token: str, user_agent: str, ip: str) -> None:
    """Remember which client started the session of a refresh token just issued at sign-in."""
    await db.execute(q.RECORD_SESSION_CLIENT, token_digest(refresh_token), user_agent[:USER_AGENT_CHARS], ip[:64])


async def list_sessions(db: asyncpg.Pool, user_id: int, current: uuid.UUID | None) -> list[SessionOut]:
    """The user's live sessions, most recently used first; `current` marks the caller's own."""
    rows = await db.fetch(q.LIVE_SESSIONS, user_id, MAX_SESSIONS_LISTED)
    return [
        SessionOut(
            id=str(row["family"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            expires_at=row["expires_at"],
            user_agent=row["user_agent"],
            ip=row["ip"],
            current=row["family"] == current,
        )
        for row in rows
    ]


async def end_session(db: asyncpg.Pool, user_id: int, session_id: uuid.UUID) -> None:
    """End one of the user's live sessions (the caller's own too: that is signing out)."""
    async with db.acquire() as conn, conn.transaction():
        if not await conn.fetchval(q.END_OWN_SESSION, session_id, user_id):
            raise NotFound("no such session of yours, or it has ended already")
        await conn.execute(q.FORGET_SESSION_CLIENTS, user_id)
        await access_changed(conn, user_id, "session ended")
        await record_audit(conn, user_id, "user.session_ended", "user", user_id, None, {"session": str(session_id)})


async def end_other_sessions(db: asyncpg.Pool, user_id: int, current: uuid.UUID | None) -> int:
    """Sign out everywhere but here; how many sessions ended."""
    async with db.acquire() as conn, conn.transaction():
        ended = await conn.fetchval(q.END_OTHER_SESSIONS, user_id, current)
        if ended:
            await conn.execute(q.FORGET_SESSION_CLIENTS, user_id)
            await access_changed(conn, user_id, "other sessions ended")
            await record_audit(conn, user_id, "user.sessions_ended", "user", user_id, None, {"ended": ended})
    return ended


async def check_password(redis: Redis, settings: Settings, user_id: int, password_hash: str, password: str,
                         client_ip: str) -> None:  # fmt: skip
    """A signed-in user proving their password again: counted and delayed like a login from this IP on this
    account (the same counter as login's, so a stolen access token guesses no faster here), 403 when wrong."""
    key = f"auth:{topics.user(user_id)}:{client_ip}"  # accounts.service's login counter
    await attempt(redis, key, settings.login_free_failures, settings.login_delay_seconds,
                  settings.login_max_delay_seconds)  # fmt: skip
    if not await verify_password(hasher_of(settings), password_hash, password):
        raise Forbidden("the current password is wrong", field="current_password")
    await forget(redis, key)


async def change_password(
    db: asyncpg.Pool,
    redis: Redis,
    settings: Settings,
    user_id: int,
    current_session: uuid.UUID | None,
    current_password: str,
    new_password: str,
    client_ip: str,
) -> int:
    """Set a new password after checking the current one; every other session ends (refresh tokens revoked,
    their access tokens refused, their sockets closed). Returns how many sessions ended. A caller without a
    session (an operator's token) keeps none."""
    row = await db.fetchrow(q.PASSWORD_OF, user_id)
    if row is None:
        raise Unauthorized("the access token is invalid or has expired")
    await check_password(redis, settings, user_id, row["password_hash"], current_password, client_ip)
    check_strength(new_password, row["email"], fields.unseal(row["phone"], fields.USER_PHONE))
    hasher = hasher_of(settings)
    if await verify_password(hasher, row["password_hash"], new_password):
        raise Unprocessable("choose a password different from the current one", field="new_password")
    new_hash = await hash_password(hasher, new_password)  # off the loop, before the transaction
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.SWAP_PASSWORD, user_id, row["password_hash"], new_hash) is None:
            raise Conflict("the password was changed meanwhile; sign in again with the new one")
        await conn.execute(q.RETIRE_ACCOUNT_TOKENS, user_id, RESET)  # a reset link mailed before is void now
        ended = await conn.fetchval(q.END_OTHER_SESSIONS, user_id, current_session)
        await conn.execute(q.FORGET_SESSION_CLIENTS, user_id)
        # Always, even with no other session: a socket opened with a token minted without a session re-checks.
        await access_changed(conn, user_id, "password changed")
        await record_audit(conn, user_id, "user.password_changed", "user", user_id, None, {"sessions_ended": ended})
        if row["email"]:
            await queue_account_mail(
                conn, user_id, Kind.PASSWORD_CHANGED, row["email"], "Your password was changed", {}
            )
    return ended
