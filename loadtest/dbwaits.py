"""Where PostgreSQL's sessions spend a load test: `pg_stat_activity` sampled every few milliseconds from a
thread of its own, summed as the average number of sessions in each state (running, waiting on a row lock
and in which statement, idle inside a transaction while the app works, ...) over the samples that found any
session at work. A crowd that queues on one hot
row shows up here as sessions waiting on `Lock transactionid` or `Lock tuple`."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

SAMPLE = """
SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'
"""


class Waits:
    def __init__(self) -> None:
        self.samples = 0  # those that found a session at work
        self.interval = 0.0
        self.sessions: Counter[str] = Counter()

    def top(self, n: int = 8) -> list[tuple[str, float]]:
        """The `n` commonest states as (description, average sessions in it)."""
        return [(what, count / max(self.samples, 1)) for what, count in self.sessions.most_common(n)]


def _describe(row: asyncpg.Record) -> str:
    if row["wait_event_type"] is None:
        return f"{row['state']}: on CPU"
    what = f"{row['state']}: waiting on {row['wait_event_type']} {row['wait_event']}"
    return f"{what} in: {row['query'].strip()}" if row["wait_event_type"] == "Lock" else what


@contextmanager
def sampling(database_url: str, interval: float = 0.05) -> Iterator[Waits]:
    """Sample while the block runs; the Waits are complete once it has left."""
    waits, stop = Waits(), threading.Event()
    waits.interval = interval

    async def sample() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            while not stop.is_set():
                rows = await conn.fetch(SAMPLE)
                waits.sessions.update(_describe(row) for row in rows)
                waits.samples += bool(rows)
                await asyncio.sleep(interval)
        finally:
            await conn.close()

    thread = threading.Thread(target=asyncio.run, args=(sample(),), daemon=True)
    thread.start()
    try:
        yield waits
    finally:
        stop.set()
        thread.join(10)
