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
INSERT INTO addresses (user_id, recipient, phone, line1, city, postal_code, country, match_key, is_default)
SELECT u, $2, $3, line1, $4, $5, $6, match_key, true
FROM unnest($1::bigint[], $7::text[], $8::text[]) AS a(u, line1, match_key)
RETURNING user_id, id
"""


async def crowd(conn: asyncpg.Connection, size: int, secret: str, minutes: int = 120) -> list[tuple[int, str, int]]:
    """`size` new buyers as (user id, access token valid `minutes`, address id)."""
    users = await conn.fetch(INSERT_BUYERS, size, f"crowd-{uuid.uuid4().hex[:8]}-")
    # The same sealed name, phone and postcode for the whole crowd (sealing is what costs); a street number each,
    # so that risk control does not see one address shared by thousands.
    shared = fields.sealed_snapshot(ADDRESS)
    own = [fields.sealed_snapshot({**ADDRESS, "line1": f"{n + 1} Market Street"}) for n in range(len(users))]
    rows = await conn.fetch(
        INSERT_ADDRESSES,
        [r["id"] for r in users],
        *(shared[k] for k in ("recipient", "phone", "city", "postal_code", "country")),
        [a["line1"] for a in own],
        [a["match_key"] for a in own],
    )
    return [(r["user_id"], access_token(r["user_id"], secret, minutes), r["id"]) for r in rows]
