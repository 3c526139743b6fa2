"""A crowd of buyers for load tests and races: made in SQL with an address each and a signed access token,
because signing thousands up through argon2 would take longer than what they are made to test."""

from __future__ import annotations

import uuid

import asyncpg

from marketplace.accounts.tokens import access_token
from marketplace.core import fields

ADDRESS = {
    "recipient": "Crowd Buyer",
    "phone": "+4915112345678",
    "line1": "1 Market Street",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
INSERT_BUYERS = """
INSERT INTO users (email, password_hash) SELECT $2 || n || '@crowd.test', 'no password: signed in by token'
FROM generate_series(1, $1) n RETURNING id
"""
INSERT_ADDRESSES = """
INSERT INTO addresses (user_id, recipient, phone, line1, city, postal_code, country, is_default)
SELECT u, $2, $3, $4, $5, $6, $7, true FROM unnest($1::bigint[]) u RETURNING user_id, id
"""


async def crowd(conn: asyncpg.Connection, size: int, secret: str, minutes: int = 120) -> list[tuple[int, str, int]]:
    """`size` new buyers as (user id, access token valid `minutes`, address id)."""
    users = await conn.fetch(INSERT_BUYERS, size, f"crowd-{uuid.uuid4().hex[:8]}-")
    address = fields.seal_address(ADDRESS)  # the same sealed lines for the whole crowd
    rows = await conn.fetch(INSERT_ADDRESSES, [r["id"] for r in users], *address.values())
    return [(r["user_id"], access_token(r["user_id"], secret, minutes), r["id"]) for r in rows]
