"""Notification rules: the in-app list, read marks, email preferences, unsubscribe, and queuing account mail."""

from __future__ import annotations

from typing import Any, get_args

import asyncpg

from marketplace.core.errors import NotFound, Unprocessable
from marketplace.core.paging import Page, fetch_page
from marketplace.notifications import ACCOUNT_KINDS, Kind
from marketplace.notifications import queries as q
from marketplace.notifications.mail import read_unsubscribe_token
from marketplace.notifications.schemas import NotificationOut, OptionalKind, Preferences, ReadAll, Unsubscribed


def notice_out(row: asyncpg.Record) -> NotificationOut:
    return NotificationOut(**dict(row))


async def listing(
    db: asyncpg.Pool, user_id: int, unread: bool, cursor: int | None, limit: int
) -> Page[NotificationOut]:
    return await fetch_page(db, q.LIST_NOTICES, user_id, cursor, unread, limit=limit, convert=notice_out)


async def mark_read(db: asyncpg.Pool, user_id: int, notification_id: int) -> NotificationOut:
    row = await db.fetchrow(q.MARK_READ, notification_id, user_id)
    if row is None:
        raise NotFound("no such notification")
    return notice_out(row)


async def mark_all_read(db: asyncpg.Pool, user_id: int) -> ReadAll:
    return ReadAll(int((await db.execute(q.MARK_ALL_READ, user_id)).split()[-1]))


async def preferences(db: asyncpg.Pool, user_id: int) -> Preferences:
    chosen = {r["kind"]: r["email"] for r in await db.fetch(q.PREFERENCES, user_id)}
    return Preferences({kind: chosen.get(kind, True) for kind in get_args(OptionalKind)})


async def set_preferences(db: asyncpg.Pool, user_id: int, body: Preferences) -> Preferences:
    if not body.email:
        raise Unprocessable("name at least one kind to change")
    async with db.acquire() as conn, conn.transaction():
        for kind, email in body.email.items():
            await conn.execute(q.SET_PREFERENCE, user_id, kind, email)
    return await preferences(db, user_id)


async def unsubscribe(db: asyncpg.Pool, secret: str, token: str) -> Unsubscribed:
    """A mail's one-click link: turns its kind off for its recipient, no sign-in needed (the token is signed)."""
    found = read_unsubscribe_token(secret, token)
    if found is None:
        raise NotFound("this unsubscribe link is not valid")
    user_id, kind = found
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(q.USER_EXISTS, user_id) is None:
            raise NotFound("this unsubscribe link is not valid")
        await conn.execute(q.SET_PREFERENCE, user_id, kind, False)
    return Unsubscribed(kind=kind, email=False)


async def queue_account_mail(
    conn: asyncpg.Connection, user_id: int, kind: Kind, to: str, title: str, data: dict[str, Any]
) -> None:
    """Queue an account mail (a reset or verification link) in the caller's transaction, so the mail exists
    exactly when its token does; the notifier sends it and then forgets `data`."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not an account mail")
    await conn.execute(q.INSERT_ACCOUNT_MAIL, user_id, kind, title, data, to)
