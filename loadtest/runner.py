"""Runs a Locust scenario headless against a freshly seeded marketplace and checks the database afterwards.

    python -m loadtest flash-sale [--buyers 5000] [--units 500] [--limit 1] [--spawn-rate 1000] [--spread 1]
    python -m loadtest browse [--users 200] [--seconds 30] [--workers 2]
    python -m loadtest vendors [--sockets 200] [--shoppers 20] [--seconds 30] [--workers 2]

Each run starts embedded PostgreSQL and Valkey under `.data/loadtest/<pid>` (removed afterwards), seeds the
tiny demo, serves the app with uvicorn in its own process, prepares the scenario (buyers made in SQL with
addresses and signed tokens: signing up thousands through argon2 would take longer than the test), runs
Locust, and prints requests per second, latency percentiles, orders per second and the invariants. Reports
(Locust's CSV and HTML, and the results) go to loadtest/reports/<time>-<scenario>/. Exits 1 if an
invariant fails."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import click
import httpx
from redis.asyncio import Redis

from loadtest.invariants import Check, check_flash_sale
from loadtest.server import Server, free_port
from marketplace.accounts.tokens import access_token
from marketplace.core.db import init_connection, migrate
from marketplace.embedded import embedded_servers, remove_dead_runs
from marketplace.flash_sales.gate import gate_keys
from marketplace.seed.crowd import crowd
from marketplace.seed.loader import seed

DATA_DIR = Path(".data/loadtest")
REPORTS = Path(__file__).resolve().parent / "reports"
SCENARIOS = Path(__file__).resolve().parent
SECRET = "load-test-secret-key-for-signing-tokens-0123456789"


@click.group()
def main() -> None:
    """Locust load tests with invariant checks."""


@contextmanager
def served(workers: int, **env: str) -> Any:
    """Fresh embedded servers, migrated and seeded, and the app serving them; yields (database URL,
    Redis URL, app URL)."""
    remove_dead_runs(DATA_DIR)  # what killed runs left behind
    data_dir = DATA_DIR / str(os.getpid())
    try:
        with embedded_servers(data_dir, "", "") as urls:
            yield from _serve(workers, *urls, **env)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _serve(workers: int, database_url: str, redis_url: str, **env: str) -> Any:
    click.echo("seeding the tiny demo marketplace ...")
    asyncio.run(_seed(database_url))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET, "PUBLIC_URL": url}
    # Buyers keep their connection open while they watch the countdown, as browsers do: a keep-alive shorter
    # than the wait would close it under them just as they buy.
    with Server("marketplace.app:create_app", settings | env, factory=True, workers=workers, port=port, keep_alive=75):
        yield database_url, redis_url, url


async def _seed(database_url: str) -> None:
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        await seed(conn, "tiny", 7, quiet=True)
    finally:
        await conn.close()


def run_locust(locustfile: str, url: str, users: int, spawn_rate: int, seconds: int, out: Path, **env: str) -> None:
    args = [sys.executable, "-m", "locust", "-f", str(SCENARIOS / locustfile), "--headless", "--host", url]
    args += ["-u", str(users), "-r", str(spawn_rate), "--run-time", f"{seconds}s", "--stop-timeout", "5"]
    args += ["--csv", str(out / "locust"), "--html", str(out / "report.html"), "--only-summary", "--loglevel", "ERROR"]
    subprocess.run(args, env={**os.environ, **env}, check=False)


def report_dir(scenario: str) -> Path:
    out = REPORTS / f"{datetime.now():%Y%m%d-%H%M%S}-{scenario}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def print_stats(out: Path) -> int:
    """Locust's figures per endpoint; returns the number of server errors (5xx) and other failures."""
    with open(out / "locust_stats.csv") as file:
        rows = list(csv.DictReader(file))
    click.echo(f"\n{'endpoint':<34}{'requests':>9}{'failed':>8}{'req/s':>9}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}")
    for row in rows:
        name = row["Name"] if row["Name"] != "Aggregated" else "all"
        click.echo(
            f"{name:<34}{row['Request Count']:>9}{row['Failure Count']:>8}{float(row['Requests/s']):>9.1f}"
            f"{row['50%']:>7}{row['95%']:>7}{row['99%']:>7}{float(row['Max Response Time']):>8.0f}"
        )
    click.echo("(latencies in ms, measured by the load generator on the same machine)")
    failed = 0
    for kind in ("failures", "exceptions"):  # failed requests, and errors raised in the scenario itself
        with open(out / f"locust_{kind}.csv") as file:
            failed += sum(int(row.get("Occurrences") or row.get("Count") or 0) for row in csv.DictReader(file))
    return failed


def print_checks(checks: list[Check]) -> bool:
    click.echo("\ninvariants")
    for check in checks:
        click.echo(f"  {'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    return all(check.passed for check in checks)


@main.command("flash-sale")
@click.option("--buyers", default=5000, show_default=True, help="buyers in the crowd, one attempt each")
@click.option("--units", default=500, show_default=True, help="units on sale")
@click.option("--limit", default=1, show_default=True, help="units per buyer")
@click.option("--spawn-rate", default=1000, show_default=True, help="buyers arriving per second, before the start")
@click.option("--spread", default=1.0, show_default=True, help="buyers try within this many seconds of the start")
@click.option("--workers", default=2, show_default=True, help="uvicorn workers")
@click.option("--max-seconds", default=180, show_default=True, help="stop the crowd after this long regardless")
def flash_sale(
    buyers: int, units: int, limit: int, spawn_rate: int, spread: float, workers: int, max_seconds: int
) -> None:
    """A crowd of BUYERS gathering before a sale of UNITS units and trying at its start, then the database's
    invariants."""
    out = report_dir("flash-sale")
    rates = {"FLASH_SALE_RATE_PER_IP": "0"}  # the whole crowd comes from this machine's one address
    with served(workers, **rates) as (database_url, redis_url, url):
        starts_at = datetime.now(UTC) + timedelta(seconds=buyers / spawn_rate + 5)  # once the crowd has gathered
        sale_id, sku_on_hand = asyncio.run(_prepare_sale(database_url, url, buyers, units, limit, starts_at, out))
        click.echo(f"flash sale {sale_id}: {units} units, limit {limit}; {buyers} buyers gather at {spawn_rate}/s, "
                   f"watch the countdown and try within {spread} s of the start")  # fmt: skip
        started = time.monotonic()
        env = {"LOADTEST_BUYERS": str(out / "buyers.json"), "LOADTEST_SALE": str(sale_id)}
        env |= {"LOADTEST_RESULTS": str(out / "results.json"), "LOADTEST_SPREAD": str(spread)}
        env["LOADTEST_STARTS_AT"] = str(starts_at.timestamp())
        run_locust("flash_sale.py", url, buyers, spawn_rate, max_seconds, out, **env)
        wall = time.monotonic() - started
        results = json.loads((out / "results.json").read_text())
        checks, figures = asyncio.run(_check_sale(database_url, redis_url, sale_id, sku_on_hand, results["accepted"]))
    failures = print_stats(out)
    click.echo(f"\noutcomes: {dict(sorted(results['outcomes'].items()))}")
    rate = figures["orders"] / max(figures["span"], 1e-3)
    click.echo(f"orders: {figures['orders']} ({figures['paid']} paid), {figures['span']:.2f} s from first to last: "
               f"{rate:.0f} orders/s; the whole crowd took {wall:.1f} s")  # fmt: skip
    checks.append(Check("exactly the units offered were sold", figures["orders"] == min(units, buyers * limit),
                        f"{figures['orders']} orders for {units} units"))  # fmt: skip
    checks.append(Check("no failed requests (5xx or unexpected answers)", failures == 0, f"{failures} failures"))
    ok = print_checks(checks)
    click.echo(f"\nreports: {out}/report.html, {out}/locust_stats.csv")
    sys.exit(0 if ok else 1)


async def _prepare_sale(
    database_url: str, url: str, buyers: int, units: int, limit: int, starts_at: datetime, out: Path
) -> tuple[int, int]:
    """The sale's SKU gets exactly `units` on the shelf; `buyers` new buyers with an address and a token."""
    conn = await asyncpg.connect(database_url)
    try:
        sku = await conn.fetchrow(
            "SELECT s.id, s.price, v.user_id FROM skus s JOIN products p ON p.id = s.product_id"
            " JOIN vendors v ON v.id = p.vendor_id WHERE p.status = 'listed' AND v.status = 'active'"
            " ORDER BY s.id LIMIT 1"
        )
        await conn.execute("UPDATE skus SET on_hand = reserved + $2 WHERE id = $1", sku["id"], units)
        buyers_made = await crowd(conn, buyers, SECRET)
        await conn.execute("ANALYZE")
        on_hand = await conn.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku["id"])
    finally:
        await conn.close()
    (out / "buyers.json").write_text(json.dumps(buyers_made))
    vendor = {"Authorization": f"Bearer {access_token(sku['user_id'], SECRET, 10)}"}
    body = {"sku_id": sku["id"], "sale_price": max(1, sku["price"] // 2), "units": units, "per_buyer_limit": limit,
            "starts_at": starts_at.isoformat(), "ends_at": (starts_at + timedelta(hours=1)).isoformat()}  # fmt: skip
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/vendor/flash-sales", json=body, headers=vendor)
        r.raise_for_status()
    return r.json()["id"], on_hand


async def _check_sale(
    database_url: str, redis_url: str, sale_id: int, on_hand: int, accepted: list[list[int]]
) -> tuple[list[Check], dict[str, float]]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    conn = await asyncpg.connect(database_url)
    try:
        await asyncio.sleep(2.5)  # let the gate keeper finish any rebuild
        left = await redis.hget(gate_keys(sale_id)[0], "remaining")
        checks = await check_flash_sale(conn, sale_id, on_hand, accepted, None if left is None else int(left))
        figures = await conn.fetchrow(
            "SELECT count(*) AS orders, count(*) FILTER (WHERE o.status = 'paid') AS paid,"
            " coalesce(extract(epoch FROM max(o.created_at) - min(o.created_at)), 0)::float AS span"
            " FROM orders o JOIN order_lines l ON l.order_id = o.id"
            " WHERE l.flash_sale_id = $1 AND o.status <> 'cancelled'",
            sale_id,
        )
    finally:
        await conn.close()
        await redis.aclose()
    return checks, dict(figures)


@main.command()
@click.option("--users", default=200, show_default=True, help="simultaneous visitors")
@click.option("--seconds", default=30, show_default=True)
@click.option("--workers", default=2, show_default=True, help="uvicorn workers")
def browse(users: int, seconds: int, workers: int) -> None:
    """Visitors browsing and searching the catalog: product lists, searches, product pages."""
    out = report_dir("browse")
    with served(workers) as (_, _redis, url):
        run_locust("browse.py", url, users, max(users // 5, 1), seconds, out)
    failures = print_stats(out)
    ok = print_checks([Check("no failed requests (5xx or unexpected answers)", failures == 0, f"{failures} failures")])
    click.echo(f"\nreports: {out}/report.html, {out}/locust_stats.csv")
    sys.exit(0 if ok else 1)


@main.command()
@click.option("--sockets", default=200, show_default=True, help="vendor sockets watching their shop's orders")
@click.option("--shoppers", default=20, show_default=True, help="buyers checking out meanwhile")
@click.option("--seconds", default=30, show_default=True)
@click.option("--workers", default=2, show_default=True, help="uvicorn workers")
def vendors(sockets: int, shoppers: int, seconds: int, workers: int) -> None:
    """Vendors holding live order sockets while shoppers check out; every socket must get every order of its
    shop placed while it was subscribed."""
    out = report_dir("vendors")
    with served(workers) as (database_url, _redis, url):
        asyncio.run(_prepare_shops(database_url, shoppers, out))
        env = {"LOADTEST_SETUP": str(out / "setup.json"), "LOADTEST_RESULTS": str(out / "results.json")}
        env |= {"LOADTEST_WS": url.replace("http", "ws", 1) + "/feed", "LOADTEST_SOCKETS": str(sockets)}
        run_locust("vendors.py", url, sockets + shoppers, sockets + shoppers, seconds, out, **env)
        watched = json.loads((out / "results.json").read_text())
        checks = asyncio.run(_check_deliveries(database_url, watched))
    failures = print_stats(out)
    checks.append(Check("no failed requests (5xx or unexpected answers)", failures == 0, f"{failures} failures"))
    ok = print_checks(checks)
    click.echo(f"\nreports: {out}/report.html, {out}/locust_stats.csv")
    sys.exit(0 if ok else 1)


async def _prepare_shops(database_url: str, shoppers: int, out: Path) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE skus SET on_hand = reserved + 1000000")
        shops = await conn.fetch("SELECT id, user_id FROM vendors WHERE status = 'active' ORDER BY id")
        skus = await conn.fetch(
            "SELECT s.id FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id"
            " WHERE p.status = 'listed' AND v.status = 'active'"
        )
        shoppers_made = await crowd(conn, shoppers, SECRET)
    finally:
        await conn.close()
    setup = {
        "vendors": [[v["id"], access_token(v["user_id"], SECRET, 120)] for v in shops],
        "buyers": shoppers_made,
        "skus": [r["id"] for r in skus],
    }
    (out / "setup.json").write_text(json.dumps(setup))


async def _check_deliveries(database_url: str, watched: list[dict[str, Any]]) -> list[Check]:
    """Every order.placed of a socket's shop between its subscription and the last event it received must
    have reached it, once."""
    conn = await asyncpg.connect(database_url)
    try:
        missing = duplicated = expected_total = 0
        for socket in watched:
            if socket["since"] is None:
                continue
            expected = await conn.fetch(
                "SELECT (payload->>'order_id')::bigint AS order_id FROM events"
                " WHERE topic = $1 AND type = 'order.placed' AND seq > $2 AND seq <= $3",
                f"vendor:{socket['vendor_id']}:orders",
                socket["since"],
                socket["last"],
            )
            expected_total += len(expected)
            missing += len({r["order_id"] for r in expected} - set(socket["orders"]))
            duplicated += len(socket["orders"]) - len(set(socket["orders"]))
        orders = await conn.fetchval("SELECT count(*) FROM orders")
    finally:
        await conn.close()
    subscribed = sum(1 for s in watched if s["since"] is not None)
    return [
        Check("every socket subscribed", subscribed == len(watched), f"{subscribed} of {len(watched)}"),
        Check(
            "no order missed by a socket",
            missing == 0,
            f"{missing} missing of {expected_total} expected, {orders} orders in the database",
        ),
        Check("no order delivered twice", duplicated == 0, f"{duplicated} duplicates"),
    ]
