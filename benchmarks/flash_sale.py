"""The flash-sale purchase path with a lean client: how many purchase attempts per second the server turns
into admissions and refusals, and their latency, without Locust's own CPU in the way.

    .venv/bin/python -m benchmarks.flash_sale [--buyers 5000] [--units 500] [--connections 200] [--workers 2]

Prepares a served, seeded marketplace and a sale exactly as `python -m loadtest flash-sale` does (the sale
opens at once), then every buyer tries once, over `--connections` keep-alive connections, as fast as the
server answers. Prints attempts per second, latency percentiles of admissions and refusals, how long the
units took to sell out, and checks that exactly the units offered were sold."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np

from benchmarks.http_load import Client
from benchmarks.report import Figure, print_figures
from loadtest.runner import prepare_sale, report_dir, served


async def crowd(port: int, buyers: list[list], sale_id: int, connections: int) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}

    async def connection(share: list[list]) -> None:
        async with Client("127.0.0.1", port) as client:
            for _, token, address in share:
                body = json.dumps({"address_id": address, "quantity": 1}).encode()
                started = time.perf_counter()
                status, _ = await client.request(
                    "POST", f"/flash-sales/{sale_id}/purchase", body, {"Authorization": f"Bearer {token}"}
                )
                latencies.setdefault(str(status), []).append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(connection(buyers[i::connections]) for i in range(connections)))
    return latencies


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    out = report_dir("flash-sale-bench")
    with served(args.workers, FLASH_SALE_RATE_PER_IP="0") as (database_url, _, url):
        sale_id, _ = asyncio.run(prepare_sale(database_url, url, args.buyers, args.units, 1, datetime.now(UTC), out))
        buyers = json.loads(Path(out / "buyers.json").read_text())
        started = time.perf_counter()
        latencies = asyncio.run(crowd(int(url.rsplit(":", 1)[1]), buyers, sale_id, args.connections))
        elapsed = time.perf_counter() - started
        orders, span = asyncio.run(_orders(database_url, sale_id))
    attempts = sum(len(v) for v in latencies.values())
    print(f"\n{attempts} purchase attempts over {args.connections} connections in {elapsed:.1f} s: "
          f"{attempts / elapsed:,.0f} attempts/s ({args.workers} uvicorn workers)")  # fmt: skip
    for status, values in sorted(latencies.items()):
        p50, p95, p99 = np.percentile(np.array(values), [50, 95, 99])
        print(f"  HTTP {status}: {len(values):>5}   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   p99 {p99:7.1f} ms")
    print(f"orders: {orders} for {args.units} units ({'exact' if orders == args.units else 'WRONG'}), "
          f"first to last {span:.2f} s")  # fmt: skip
    name = f"flash sale ({args.buyers:,} buyers, {args.units} units)"
    refused = [ms for status, values in latencies.items() if status != "201" for ms in values]
    return print_figures([
        Figure(name, "admitted p99", float(np.percentile(latencies.get("201", [0]), 99)), "ms", 250),
        Figure(name, "refused p99", float(np.percentile(refused or [0], 99)), "ms", 50),
        Figure(name, "first to last order", span, "s", 1),
        Figure(name, "orders beyond the units", abs(orders - args.units), "", 0),
        Figure(name, "attempts", attempts / elapsed, "/s"),
    ])  # fmt: skip


async def _orders(database_url: str, sale_id: int) -> tuple[int, float]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM max(o.created_at) - min(o.created_at)), 0)::float AS s"
            " FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.flash_sale_id = $1",
            sale_id,
        )
    finally:
        await conn.close()
    return row["n"], row["s"]


if __name__ == "__main__":
    main()
