"""Idempotency-Key for unsafe POSTs, with the semantics payment APIs use.

Same key, same body: the stored response is replayed. Same key, another body: 422. Same key while the
first request is still running: 409. A key is claimed in its own short transaction, then completed in the
work's transaction together with the response, so "the order exists" and "the key is done" commit as one.
If the work fails it wrote nothing, and the claim is released so that a retry runs it again. Keys live 24
hours (the sweeper deletes them after). A claim records the PostgreSQL session doing the work: a claim left
'running' by a worker that crashed or was killed (its session is gone) is taken over by the next retry at
once; one whose session still exists but stalls, after five minutes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from litestar import Response
from litestar.params import HeaderParameter

from marketplace.core import fields
from marketplace.core.errors import BadRequest, Conflict, Unprocessable

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

# The header parameter of every route that takes a key (checkout, payment, flash-sale purchase, campaign launch);
# the pattern is the one checked here, so the OpenAPI document states it.
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        pattern=KEY_PATTERN.pattern,  # 1-255 visible ASCII characters
        description="Retry with the same key and body: the first response comes back",
    ),
]

CLAIM = """
INSERT INTO idempotency_keys (user_id, route, key, request_hash, owner_pid, owner_started)
SELECT $1, $2, $3, $4, pid, backend_start FROM pg_stat_get_activity(pg_backend_pid())
ON CONFLICT (user_id, route, key) DO UPDATE SET
    request_hash = EXCLUDED.request_hash, status = 'running', response_status = NULL, response_body = NULL,
    created_at = now(), expires_at = now() + interval '24 hours',
    owner_pid = EXCLUDED.owner_pid, owner_started = EXCLUDED.owner_started
WHERE idempotency_keys.expires_at < now()
   OR (idempotency_keys.status = 'running' AND (
        idempotency_keys.created_at < now() - interval '5 minutes'
        OR NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(idempotency_keys.owner_pid) a
                       WHERE a.backend_start = idempotency_keys.owner_started)))
RETURNING true
"""
EXISTING = """
SELECT request_hash, status, response_status, response_body FROM idempotency_keys
WHERE user_id = $1 AND route = $2 AND key = $3 AND expires_at >= now()
"""
COMPLETE = """
UPDATE idempotency_keys SET status = 'done', response_status = $4, response_body = $5
WHERE user_id = $1 AND route = $2 AND key = $3
"""
RELEASE = "DELETE FROM idempotency_keys WHERE user_id = $1 AND route = $2 AND key = $3 AND status = 'running'"
PURGE_EXPIRED = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1
))
"""

Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class Outcome:
    """What the work answered, or what is stored under the key (`replayed`): a status and a JSON body. Plain
    values, so a service can run work once without building an HTTP response (`response_of` builds it)."""

    status: int
    body: bytes
    replayed: bool = False


def response_of(outcome: Outcome) -> Response[bytes]:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)


# A stored response holds what the buyer sees (a checkout's address in clear): it is sealed like the fields.
RESPONSE = "idempotency.response"


def _sealed(body: bytes) -> bytes:
    return fields.cipher().ring().seal_bytes(body, RESPONSE)


async def replay(db: asyncpg.Pool, user_id: int, route: str, key: str, request_body: bytes) -> Outcome | None:
    """The outcome of a request already made with this key, or None: for a route that refuses a retry
    before running anything (a flash sale sold out since) but owes the first request's result back."""
    if not KEY_PATTERN.match(key):
        raise BadRequest("Idempotency-Key must be 1-255 visible ASCII characters")
    async with db.acquire() as conn:
        return await _stored(conn, user_id, route, key, hashlib.sha256(request_body).digest())


async def _stored(conn: asyncpg.Connection, user_id: int, route: str, key: str, request_hash: bytes) -> Outcome | None:
    row = await conn.fetchrow(EXISTING, user_id, route, key)
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise Unprocessable(
            "this Idempotency-Key was used with a different request body", code="idempotency-key-reused"
        )
    if row["status"] == "running":
        raise Conflict("a request with this Idempotency-Key is still being processed", code="idempotency-key-in-use")
    body = fields.cipher().ring().open_bytes(row["response_body"], RESPONSE)
    return Outcome(row["response_status"], body, replayed=True)


async def run_once(
    db: asyncpg.Pool, user_id: int, route: str, key: str | None, request_body: bytes, work: Work
) -> Response[bytes]:
    """Run `work` (which gets a connection inside a transaction and returns status and JSON body) at most
    once per key; its response, or the stored one with `Idempotent-Replayed: true`."""
    return response_of(await once(db, user_id, route, key, request_body, work))


async def once(db: asyncpg.Pool, user_id: int, route: str, key: str | None, request_body: bytes, work: Work) -> Outcome:
    """`run_once` without the HTTP response, for services."""
    if key is None:
        async with db.acquire() as conn, conn.transaction():
            return Outcome(*await work(conn))
    async with db.acquire() as conn:
        stored = await _claim(conn, user_id, route, key, request_body)
        if stored is not None:
            return stored
        try:
            async with conn.transaction():
                status, body = await work(conn)
                await conn.execute(COMPLETE, user_id, route, key, status, _sealed(body))
        except BaseException:
            await conn.execute(RELEASE, user_id, route, key)
            raise
    return Outcome(status, body)


async def claim(db: asyncpg.Pool, user_id: int, route: str, key: str, request_body: bytes) -> Outcome | None:
    """Claim a key for work that runs later on another connection (flash purchases written in batches): None
    once claimed, or the stored outcome to replay. The work's transaction then calls `complete`; if it
    fails, `release` frees the key for a retry."""
    async with db.acquire() as conn:
        return await _claim(conn, user_id, route, key, request_body)


async def _claim(conn: asyncpg.Connection, user_id: int, route: str, key: str, request_body: bytes) -> Outcome | None:
    if not KEY_PATTERN.match(key):
        raise BadRequest("Idempotency-Key must be 1-255 visible ASCII characters")
    request_hash = hashlib.sha256(request_body).digest()
    if await conn.fetchval(CLAIM, user_id, route, key, request_hash):
        return None
    stored = await _stored(conn, user_id, route, key, request_hash)
    if stored is None:  # expired between the two statements: treat as a race
        raise Conflict("this Idempotency-Key is being reused concurrently; retry", code="idempotency-key-in-use")
    return stored


async def complete(conn: asyncpg.Connection, done: list[tuple[int, str, str, Outcome]]) -> None:
    """Store each claimed key's outcome (user, route, key, outcome), inside the work's transaction."""
    await conn.executemany(COMPLETE, [(user, route, key, o.status, _sealed(o.body)) for user, route, key, o in done])


async def release(conn: asyncpg.Connection, claimed: list[tuple[int, str, str]]) -> None:
    """Free claimed keys whose work failed, so that a retry runs it again."""
    await conn.executemany(RELEASE, claimed)


async def purge_expired(db: asyncpg.Pool, batch: int = 1000) -> int:
    """Delete keys past their 24 hours, in batches; returns how many (the sweeper calls this every round)."""
    deleted = 0
    while True:
        count = int((await db.execute(PURGE_EXPIRED, batch)).split()[-1])
        deleted += count
        if count < batch:
            return deleted
