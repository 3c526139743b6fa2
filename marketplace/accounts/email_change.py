"""Changing an account's email address: the new address must prove it is the user's.

Asking needs the current password (so a stolen access token alone cannot move the account to another mailbox)
and mails a single-use link to the new address, good for `email_change_hours`; a newer request replaces it.
Nothing changes until the link is used: then the address is set (and counts as verified, since the link reached
it), and the old address is told. Sessions go on: the password did not change.
"""

from __future__ import annotations

import secrets

import asyncpg
from redis.asyncio import Redis

from marketplace.accounts import queries as q
from marketplace.accounts.sessions import check_password
from marketplace.accounts.tokens import token_digest
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, Unauthorized, Unprocessable
from marketplace.core.ratelimit import hit
from marketplace.notifications import Kind
from marketplace.notifications.service import queue_account_mail
from marketplace.settings import Settings

EMAIL_CHANGE = "email_change"
INVALID_LINK = "this email change link is invalid, used or expired; ask for a new one"


def masked(email: str) -> str:
    """`a***@example.com`: enough for the owner to recognise, too little to give an address away."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


async def request_change(
    db: asyncpg.Pool, redis: Redis, settings: Settings, user_id: int, new_email: str, password: str, client_ip: str
) -> None:
    """Mail a confirmation link to `new_email`; the address stays as it is until the link is used."""
    address = new_email.strip().lower()
    row = await db.fetchrow(q.PASSWORD_OF, user_id)
    if row is None:
        raise Unauthorized("the access token is invalid or has expired")
    await check_password(redis, settings, user_id, row["password_hash"], password, client_ip)
    if row["email"] is not None and row["email"].lower() == address:
        raise Unprocessable("this is your address already", field="new_email")
    if await db.fetchval(q.EMAIL_TAKEN, address):
        raise Conflict("an account with this email already exists")
    # Each request mails a stranger's address possibly: as few as password resets per address.
    limit, window = settings.password_reset_per_email, settings.password_reset_window_seconds
    await hit(redis, f"email-change:user:{user_id}", limit, window)
    hours = settings.email_change_hours
    token = secrets.token_urlsafe(32)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(q.RETIRE_ACCOUNT_TOKENS, user_id, EMAIL_CHANGE)
        await conn.execute(q.INSERT_EMAIL_CHANGE, token_digest(token), user_id, hours * 3600, address)
        data = {"token": token, "hours": hours}
        await queue_account_mail(conn, user_id, Kind.EMAIL_CHANGE, address, "Confirm your new email address", data)


async def confirm_change(db: asyncpg.Pool, redis: Redis, settings: Settings, token: str, client_ip: str) -> int:
    """Use a mailed link: the account's address becomes the one it was mailed to. Returns the account's id."""
    await hit(redis, f"email-change:ip:{client_ip}", settings.auth_rate_limit, settings.auth_rate_window_seconds)
    async with db.acquire() as conn, conn.transaction():
        used = await conn.fetchrow(q.USE_EMAIL_CHANGE, token_digest(token))
        if used is None:
            raise Unprocessable(INVALID_LINK)
        user_id, new_email = used["user_id"], used["new_email"]
        old_email = await conn.fetchval(q.EMAIL_FOR_UPDATE, user_id)
        try:
            async with conn.transaction():
                await conn.execute(q.SET_EMAIL, user_id, new_email)
        except asyncpg.UniqueViolationError:
            raise Conflict("an account with this email was made meanwhile; this link cannot be used") from None
        await record_audit(conn, user_id, "user.email_changed", "user", user_id, {"email": old_email},
                           {"email": new_email})  # fmt: skip
        if old_email:
            data = {"new_email": masked(new_email)}
            await queue_account_mail(conn, user_id, Kind.EMAIL_CHANGED, old_email, "Your email address was changed",
                                     data)  # fmt: skip
    return user_id
