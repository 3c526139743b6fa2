"""Bulk loading for the seed: COPY rows and learn the ids PostgreSQL gave them.

Within one session, and with nothing else inserting, COPY numbers identity ids consecutively, so the new
ids are the last `count` up to the table's maximum."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import numpy as np

# The tables whose ids the seed needs back (only these names ever reach the SQL).
MAX_ID = {
    table: f"SELECT max(id) FROM {table}"
    for table in ("users", "vendors", "products", "skus", "checkouts", "orders", "order_lines", "aftersales_requests")
}


async def next_ids(conn: asyncpg.Connection, table: str, count: int) -> np.ndarray:
    """The ids of the last `count` rows inserted into `table` by this session."""
    if count == 0:
        return np.array([], dtype=np.int64)
    last = await conn.fetchval(MAX_ID[table])
    return np.arange(last - count + 1, last + 1)


async def copy_with_ids(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]
) -> np.ndarray:
    await conn.copy_records_to_table(table, records=rows, columns=columns)
    return await next_ids(conn, table, len(rows))


def timestamp(seconds: float) -> datetime:
    """A simulated unix time as the timestamptz COPY expects."""
    return datetime.fromtimestamp(seconds, UTC)
