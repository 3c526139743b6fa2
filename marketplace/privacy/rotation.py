"""Resealing the fields sealed at rest (core/fields.py) under the active key: after a new key is made active
(`marketplace rotate-keys`), and for values written in clear before encryption (`serve`, once, on the migration
that introduced it).

Online and resumable: each batch is a short transaction that locks its rows, opens each value with whichever key
sealed it and seals it again with the active one, and which rows remain is read from the data itself (a value's
key id), so a stopped run simply continues when started again. A process still running with the old key list may
seal a value with the old key meanwhile; the run makes passes until none is left (or says how many are)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from marketplace.core import fields
from marketplace.core.db import create_pool
from marketplace.privacy.queries import SEALED_TABLES, SealedTable

PASSES = 3


def _pattern(plaintext_only: bool) -> str:
    return f"{fields.PREFIX}%" if plaintext_only else f"{fields.PREFIX}{fields.cipher().ring().active}.%"


async def remaining(db: asyncpg.Pool, plaintext_only: bool = False) -> int:
    pattern = _pattern(plaintext_only)
    return sum([await db.fetchval(t.count, pattern) for t in SEALED_TABLES])


def _resealed(table: SealedTable, row: asyncpg.Record) -> list[Any]:
    cipher = fields.cipher()
    if table.json_column:
        return [fields.sealed_snapshot(fields.open_address(row[table.json_column]))]
    opened = {c: cipher.open(row[c], purpose) for c, purpose in table.columns}
    match = [fields.address_match({**opened, "country": row["country"]})] if table.matched else []
    digests = [cipher.digest(opened[source], dict(table.columns)[source]) for _, source in table.digests]
    return [cipher.seal(opened[c], purpose) for c, purpose in table.columns] + match + digests


async def _reseal_table(
    db: asyncpg.Pool, table: SealedTable, pattern: str, batch: int, advance: Callable[[int], object]
) -> int:
    done, after = 0, 0
    while True:
        async with db.acquire() as conn, conn.transaction():
            rows = await conn.fetch(table.select, after, pattern, batch)
            if not rows:
                return done
            values = [_resealed(table, r) for r in rows]
            columns = [list(column) for column in zip(*values, strict=True)]
            await conn.execute(table.update, [r["id"] for r in rows], *columns)
        after = rows[-1]["id"]
        done += len(rows)
        advance(len(rows))


async def reseal(
    db: asyncpg.Pool,
    *,
    plaintext_only: bool = False,
    batch: int = 500,
    advance: Callable[[int], object] = lambda _n: None,
) -> tuple[int, int]:
    """Reseal every stale value; returns (values' rows resealed, rows still stale after the last pass)."""
    total = 0
    for _ in range(PASSES):
        pattern = _pattern(plaintext_only)
        done = sum([await _reseal_table(db, t, pattern, batch, advance) for t in SEALED_TABLES])
        total += done
        if done == 0:  # a pass that found nothing stale: what a later writer sealed with an old key is counted below
            break
    return total, await remaining(db, plaintext_only)


async def seal_plaintext(url: str) -> int:
    """Seal what was written in clear before field encryption (run by `serve` when its migration is applied)."""
    db = await create_pool(url, 1, 2)
    try:
        return (await reseal(db, plaintext_only=True))[0]
    finally:
        await db.close()
