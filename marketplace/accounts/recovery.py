"""Mailed account links: password reset and email verification, each a random single-use token stored hashed.

- A reset request always answers 202, whether or not the address has an account, and is rate-limited per
  address and per IP. The link is good for `password_reset_minutes`, once; a newer one replaces it. Using it
  sets the password, ends every session (refresh tokens revoked, sockets told), and confirms the address.
- Registration with an email mails a verification link. An unverified account may sign in, browse and buy, and
  gets its order mails; offers (campaign mail) wait until the address is confirmed (notifications/queries.py).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncpg
from redis.asyncio import Redis

from marketplace.accounts import queries as q
from marketplace.accounts.passwords import check_strength, hash_password, hasher_of
from marketplace.accounts.tokens import token_digest
from marketplace.core import fields
from marketplace.core.audit import record_audit
from marketplace.core.errors import Unprocessable
from marketplace.core.events import access_changed
from marketplace.core.ratelimit import hit
from marketplace.notifications import Kind
from marketplace.notifications.service import queue_account_mail
from marketplace.settings import Settings

RESET = "password_reset"
VERIFY = "verify_email"
INVALID_RESET = "this password reset link is invalid, used or expired; ask for a new one"
INVALID_VERIFY = "this verification link is invalid, used or expired"


async def _new_token(conn: asyncpg.Connection, user_id: int, purpose: str, seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(q.RETIRE_ACCOUNT_TOKENS, user_id, purpose)
    await conn.execute(q.INSERT_ACCOUNT_TOKEN, token_digest(token), user_id, purpose, seconds)
    return token


async def send_verification(conn: asyncpg.Connection, settings: Settings, user_id: int, email: str) -> None:
    """Mail a verification link, in the caller's transaction (registration's)."""
    hours = settings.verify_email_hours
    token = await _new_token(conn, user_id, VERIFY, hours * 3600)
    data = {"token": token, "hours": hours}
    await queue_account_mail(conn, user_id, Kind.VERIFY_EMAIL, email, "Confirm your email address", data)


async def verify_email(db: asyncpg.Pool, redis: Redis, settings: Settings, token: str, client_ip: str) -> int:
    """Confirm the address the token was mailed to; returns the account's id."""
    await hit(redis, f"verify:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    async with db.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval(q.USE_ACCOUNT_TOKEN, token_digest(token), VERIFY)
        if user_id is None:
            raise Unprocessable(INVALID_VERIFY)
        await conn.execute(q.MARK_EMAIL_VERIFIED, user_id)
    return user_id


async def request_reset(db: asyncpg.Pool, redis: Redis, settings: Settings, email: str, client_ip: str) -> None:
    """Mail a reset link if an active account has this address; silent either way."""
    await hit(redis, f"reset:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    address = email.strip().lower()
    await hit(
        redis, f"reset:email:{address}", settings.password_reset_per_email, settings.password_reset_window_seconds
    )
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.ACTIVE_BY_EMAIL, address)
        if row is None:
            return
        minutes = settings.password_reset_minutes
        token = await _new_token(conn, row["id"], RESET, minutes * 60)
        data = {"token": token, "minutes": minutes}
        await queue_account_mail(conn, row["id"], Kind.PASSWORD_RESET, row["email"], "Reset your password", data)


async def confirm_reset(
    db: asyncpg.Pool, redis: Redis, settings: Settings, token: str, password: str, client_ip: str
) -> None:
    await hit(redis, f"reset:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    row = await db.fetchrow(q.ACCOUNT_TOKEN, token_digest(token), RESET)
    if row is None or row["used_at"] is not None or row["expires_at"] <= datetime.now(UTC) or row["status"] != "active":
        raise Unprocessable(INVALID_RESET)
    check_strength(password, row["email"], fields.unseal(row["phone"], fields.USER_PHONE))
    password_hash = await hash_password(hasher_of(settings), password)  # off the loop, before any lock is held
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.USE_ACCOUNT_TOKEN, token_digest(token), RESET) is None:  # used meanwhile
            raise Unprocessable(INVALID_RESET)
        user_id = row["user_id"]
        await conn.execute(q.SET_PASSWORD, user_id, password_hash)
        await conn.execute(q.RETIRE_ACCOUNT_TOKENS, user_id, RESET)
        await conn.execute(q.MARK_EMAIL_VERIFIED, user_id)  # the link reached the address
        await conn.execute(q.REVOKE_ALL_OF_USER, user_id)
        await access_changed(conn, user_id, "password reset")
        await record_audit(conn, user_id, "user.password_reset", "user", user_id)
