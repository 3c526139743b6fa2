"""Sales metrics and a stored segment run against a seeded demo in PostgreSQL.

    .venv/bin/python -m benchmarks.sales [--size medium] [--days 90] [--repeat 5]

Seeds fresh embedded servers with the demo of `--size`, ANALYZEs, then times each metric over the last
`--days` (median of `--repeat`), for the platform and for its busiest vendor, by day and by week; then a
whole segment run as the analytics worker does it: read every purchase, score, cluster, value, and store
every segment with its members."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics import sales, segments
from marketplace.core.db import create_pool, migrate
from marketplace.embedded import embedded_servers
from marketplace.seed.loader import seed


async def timed(repeat: int, call: Callable[..., Awaitable[Any]], *args: Any) -> float:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call(*args)
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


async def run(database_url: str, size: str, days: int, repeat: int) -> None:
    await migrate(database_url)
    db = await create_pool(database_url, 1, 4)
    try:
        async with db.acquire() as conn:
            started = time.perf_counter()
            await seed(conn, size, 7, quiet=True)
            await conn.execute("ANALYZE")
            print(f"seeded the {size} demo in {time.perf_counter() - started:.1f} s: "
                  f"{await conn.fetchval('SELECT count(*) FROM orders'):,} orders, "
                  f"{await conn.fetchval('SELECT count(*) FROM interactions'):,} interactions")  # fmt: skip
            vendor = await conn.fetchval("SELECT vendor_id FROM orders GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        today = datetime.now(UTC).date()
        for grain in ("day", "week"):
            period = sales.Period.of(today - timedelta(days=days - 1), today, grain)  # type: ignore[arg-type]
            for scope, vendor_id in (("platform", None), (f"vendor {vendor}", vendor)):
                figures = {
                    "sales": await timed(repeat, sales.sales, db, period, vendor_id),
                    "funnel": await timed(repeat, sales.funnel, db, period, vendor_id),
                    "top 10": await timed(repeat, sales.top, db, period, vendor_id, 10),
                }
                print(f"  {days} days by {grain:<4} {scope:<10} "
                      + "   ".join(f"{name} {ms:7.1f} ms" for name, ms in figures.items()))  # fmt: skip
        print(f"  cohorts (every purchase, platform) {await timed(repeat, sales.cohorts, db):7.1f} ms")
        run_ = await segments.request(db, None)
        await db.execute("UPDATE segment_runs SET status = 'running' WHERE id = $1", run_.id)
        started = time.perf_counter()
        await segments.execute(db, run_.id)
        done = await segments.run(db, run_.id)
        members = await db.fetchval("SELECT count(*) FROM segment_members")
        print(f"  a segment run: {done.customers:,} customers, {members:,} memberships stored, "
              f"{time.perf_counter() - started:.1f} s ({done.status}; {done.summary})")  # fmt: skip
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(".data/bench-sales")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with embedded_servers(scratch, "", "", need_redis=False) as (database_url, _):
            asyncio.run(run(database_url, args.size, args.days, args.repeat))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
