"""Runs a Locust scenario headless against a freshly seeded marketplace and checks the database afterwards.

    python -m loadtest flash-sale [--buyers 5000] [--units 500] [--limit 1] [--spawn-rate 1000] [--spread 1]
    python -m loadtest browse [--users 200] [--seconds 30]
    python -m loadtest vendors [--sockets 500] [--shoppers 20] [--seconds 30]
    python -m loadtest group-buy [--buyers 1000] [--groups 50] [--group-size 10]   (group_buy_run.py)
    (each also takes --workers 2, --size (tiny; small for browse), --out DIR; or `marketplace loadtest ...`)

Each run starts embedded PostgreSQL and Valkey under `.data/loadtest/<pid>` (removed afterwards), seeds the
demo, serves the app with uvicorn in its own process, prepares the scenario (buyers made in SQL with
addresses and signed tokens: signing up thousands through argon2 would take longer than the test), runs
Locust, and prints requests per second, latency percentiles, orders per second and the invariants. Reports
(Locust's CSV and HTML, the clients' results and summary.json) go to loadtest/reports/<time>-<scenario>/.
Exits 1 if an invariant fails."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import click
import httpx
from redis.asyncio import Redis
from tqdm import tqdm

from loadtest.dbwaits import Waits, sampling
from loadtest.invariants import Check, check_flash_sale
from loadtest.plan import demand
from loadtest.recording import merged, server_errors
from loadtest.server import Server, free_port
from marketplace.accounts.tokens import access_token
from marketplace.core import fields, topics
from marketplace.core.db import init_connection, migrate
from marketplace.embedded import embedded_servers, remove_dead_runs
from marketplace.flash_sales.gate import gate_keys
from marketplace.seed.crowd import crowd
from marketplace.seed.loader import seed
from marketplace.settings import Settings

DATA_DIR = Path(".data/loadtest")
REPORTS = Path(__file__).resolve().parent / "reports"
SCENARIOS = Path(__file__).resolve().parent
SECRET = "load-test-secret-key-for-signing-tokens-0123456789"
WEBHOOK_SECRET = "load-test-secret-the-sandbox-gateway-signs-with"
# The whole crowd comes from this machine's one address, and each buyer's attempts follow each other at once.
UNLIMITED = {"FLASH_SALE_RATE_PER_IP": "0", "FLASH_SALE_RATE_PER_BUYER": "0"}


@click.group()
def main() -> None:
    """Locust load tests against a freshly seeded marketplace, with invariant checks."""


def common(size: str) -> Any:
    """The options every scenario takes; `size` is the scenario's default demo size."""

    def options(command: Any) -> Any:
        command = click.option("--workers", default=2, show_default=True, help="uvicorn workers")(command)
        command = click.option(
            "--size", default=size, show_default=True, type=click.Choice(["tiny", "small", "medium", "large"]),
            help="demo marketplace to seed first",
        )(command)  # fmt: skip
        return click.option(
            "--out", type=click.Path(file_okay=False, path_type=Path), help="report directory [loadtest/reports/...]"
        )(command)

    return options


@contextmanager
def served(workers: int, size: str = "tiny", **env: str) -> Iterator[tuple[str, str, str]]:
    """Fresh embedded servers, migrated and seeded, and the app serving them; yields (database URL,
    Redis URL, app URL)."""
    remove_dead_runs(DATA_DIR)  # what killed runs left behind
    data_dir = DATA_DIR / str(os.getpid())
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        with embedded_servers(data_dir, "", "") as (database_url, redis_url):
            click.echo(f"seeding the {size} demo marketplace ...")
            fields.configure(Settings(data_dir=data_dir, secret_key=SECRET))  # DATA_DIR below: the app's keys too
            asyncio.run(_seed(database_url, size))
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            settings = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET}
            settings |= {"PUBLIC_URL": url, "SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET, "DATA_DIR": str(data_dir)}
            # Buyers keep their connection open while they watch the countdown, as browsers do: a keep-alive
            # shorter than the wait would close it under them just as they buy.
            target = "marketplace.app:create_app"
            with Server(target, settings | env, factory=True, workers=workers, port=port, keep_alive=75):
                yield database_url, redis_url, url
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _seed(database_url: str, size: str) -> None:
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        await seed(conn, size, 7)
    finally:
        await conn.close()


async def make_crowd(conn: asyncpg.Connection, size: int) -> list[tuple[int, str, int]]:
    """`size` buyers with an address and a token each, made in SQL in batches, with a progress bar."""
    made: list[tuple[int, str, int]] = []
    with tqdm(total=size, desc="buyers", unit="buyer", disable=size < 2000) as bar:
        while len(made) < size:
            batch = await crowd(conn, min(1000, size - len(made)), SECRET)
            made += batch
            bar.update(len(batch))
    return made


def run_locust(locustfile: str, url: str, users: int, spawn_rate: float, seconds: int, out: Path, **env: str) -> float:
    """Run the scenario headless; returns the CPU seconds Locust used."""
    args = [sys.executable, "-m", "locust", "-f", str(SCENARIOS / locustfile), "--headless", "--host", url]
    args += ["-u", str(users), "-r", str(spawn_rate), "--run-time", f"{seconds}s", "--stop-timeout", "5"]
    args += ["--csv", str(out / "locust"), "--html", str(out / "report.html"), "--only-summary", "--loglevel", "ERROR"]
    for old in out.glob("results-*.json"):
        old.unlink()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out / "locust.log", "w") as log:  # Locust's own summary and any traceback; ours is printed after
        run = subprocess.run(args, env={**os.environ, "LOADTEST_RESULTS": str(out), **env}, stdout=log, stderr=log)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode not in (0, 1) or not (out / "locust_stats.csv").exists():  # 1: some request failed
        click.echo((out / "locust.log").read_text()[-3000:], err=True)
        raise click.ClickException(f"Locust exited with {run.returncode}; its log is {out}/locust.log")
    return after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime


def report_dir(scenario: str, out: Path | None = None) -> Path:
    out = out or REPORTS / f"{datetime.now():%Y%m%d-%H%M%S}-{scenario}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def read_stats(out: Path) -> list[dict[str, Any]]:
    """Locust's figures per endpoint (and "all"), latencies in ms."""
    with open(out / "locust_stats.csv") as file:
        rows = list(csv.DictReader(file))
    return [
        {
            "name": row["Name"] if row["Name"] != "Aggregated" else "all",
            "requests": int(row["Request Count"]),
            "failed": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]),
            **{p: float(row[f"{p[1:]}%"] if row[f"{p[1:]}%"] != "N/A" else 0) for p in ("p50", "p95", "p99")},
            "max": float(row["Max Response Time"]),
        }
        for row in rows
    ]


def print_stats(stats: list[dict[str, Any]]) -> None:
    click.echo(f"\n{'endpoint':<44}{'requests':>9}{'failed':>8}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}")
    for s in stats:
        click.echo(
            f"{s['name']:<44}{s['requests']:>9}{s['failed']:>8}{s['rps']:>8.1f}"
            f"{s['p50']:>7.0f}{s['p95']:>7.0f}{s['p99']:>7.0f}{s['max']:>8.0f}"
        )
    click.echo("(latencies in ms as the load generator saw them, on the same machine; req/s over the whole run)")


def failure_checks(out: Path, results: dict[str, Any]) -> list[Check]:
    """No request answered 5xx (or not at all), and no request or scenario code failed otherwise."""
    errors = server_errors(results.get("statuses", {}))
    failed = 0
    for kind in ("failures", "exceptions"):  # failed requests, and errors raised in the scenario itself
        with open(out / f"locust_{kind}.csv") as file:
            failed += sum(int(row.get("Occurrences") or row.get("Count") or 0) for row in csv.DictReader(file))
    detail = ", ".join(f"{key}: {n}" for key, n in sorted(errors.items())) or "none"
    return [
        Check("no server errors (5xx or no answer)", not errors, detail),
        Check("no failed requests or scenario errors", failed == 0, f"{failed} (details in locust_failures.csv)"),
    ]


def print_load(figures: dict[str, Any], waits: Waits) -> None:
    """How busy the load generator was, and where the database's sessions spent the run."""
    click.echo(f"load generator: Locust used {figures['locust_cpu_seconds']:.1f} CPU-seconds "
               f"in {figures['locust_seconds']:.1f} s")  # fmt: skip
    click.echo(f"database sessions at work, on average over {waits.samples * waits.interval:.1f} s of activity:")
    for what, sessions in waits.top():
        click.echo(f"  {sessions:6.2f}  {what}")
    figures["database_sessions"] = dict(waits.top(20))


def finish(out: Path, stats: list[dict[str, Any]], checks: list[Check], figures: dict[str, Any]) -> None:
    """Print the invariants, write summary.json, and exit 1 if any failed."""
    click.echo("\ninvariants")
    for check in checks:
        click.echo(f"  {'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    ok = all(check.passed for check in checks)
    summary = {"passed": ok, "figures": figures, "endpoints": stats, "checks": [asdict(c) for c in checks]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    click.echo(f"\n{'PASSED' if ok else 'FAILED'}; reports in {out}/ (report.html, locust_stats.csv, summary.json)")
    sys.exit(0 if ok else 1)


@main.command("flash-sale")
@click.option("--buyers", default=5000, show_default=True, help="buyers in the crowd")
@click.option("--units", default=500, show_default=True, help="units on sale")
@click.option("--limit", default=1, show_default=True, help="units per buyer")
@click.option("--spawn-rate", default=1000.0, show_default=True, help="buyers arriving per second, before the start")
@click.option("--spread", default=1.0, show_default=True, help="buyers try within this many seconds of the start")
@click.option("--greedy", default=0.1, show_default=True, help="share of buyers retrying and trying past the limit")
@click.option("--max-seconds", default=180, show_default=True, help="stop the crowd after this long regardless")
@common("tiny")
def flash_sale(
    buyers: int, units: int, limit: int, spawn_rate: float, spread: float, greedy: float, max_seconds: int,
    workers: int, size: str, out: Path | None,
) -> None:  # fmt: skip
    """A crowd of BUYERS gathering before a sale of UNITS units and trying at its start, then the database's
    invariants."""
    out = report_dir("flash-sale", out)
    started = time.monotonic()
    # Admitted buyers pay by card through the sandbox gateway, mounted only when asked for.
    with served(workers, size, **UNLIMITED, SANDBOX_GATEWAY="true") as (database_url, redis_url, url):
        starts_at = datetime.now(UTC) + timedelta(seconds=buyers / spawn_rate + 5)  # once the crowd has gathered
        sale_id, sku_on_hand = asyncio.run(prepare_sale(database_url, url, buyers, units, limit, starts_at, out))
        click.echo(f"flash sale {sale_id}: {units} units, limit {limit}; {buyers} buyers gather at {spawn_rate:g}/s, "
                   f"watch the countdown and try within {spread:g} s of the start")  # fmt: skip
        crowd_started = time.monotonic()
        env = {"LOADTEST_BUYERS": str(out / "buyers.json"), "LOADTEST_SALE": str(sale_id)}
        env |= {"LOADTEST_LIMIT": str(limit), "LOADTEST_SPREAD": str(spread), "LOADTEST_GREEDY": str(greedy)}
        env |= {"LOADTEST_STARTS_AT": str(starts_at.timestamp()), "LOADTEST_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with sampling(database_url) as waits:
            locust_cpu = run_locust("flash_sale.py", url, buyers, spawn_rate, max_seconds, out, **env)
        crowd_seconds = time.monotonic() - crowd_started
        results = merged(out)
        checks, figures = asyncio.run(
            _check_sale(database_url, redis_url, sale_id, sku_on_hand, results.get("accepted", []))
        )
    stats = read_stats(out)
    print_stats(stats)
    outcomes = results.get("outcomes", {})
    attempts = sum(n for outcome, n in outcomes.items() if not outcome.startswith("retry"))
    first, last = results.get("window", [0.0, 0.0])
    burst = max(last - first, 1e-3)
    figures |= {"attempts": attempts, "attempts_per_second": attempts / burst, "burst_seconds": burst}
    figures |= {"orders_per_second": figures["orders"] / max(figures["span"], 1e-3), "outcomes": outcomes}
    figures |= {"crowd_seconds": crowd_seconds, "wall_seconds": time.monotonic() - started}
    figures |= {"locust_cpu_seconds": locust_cpu, "locust_seconds": crowd_seconds}
    click.echo(f"\noutcomes: {dict(sorted(outcomes.items()))}")
    click.echo(f"purchase attempts: {attempts} in {burst:.2f} s from the first sent to the last answered: "
               f"{figures['attempts_per_second']:.0f}/s")  # fmt: skip
    click.echo(f"orders: {figures['orders']} ({figures['paid']} paid), {figures['span']:.2f} s from first to last: "
               f"{figures['orders_per_second']:.0f} orders/s; the crowd took {crowd_seconds:.1f} s from arriving "
               f"to the last leaving, the whole run {figures['wall_seconds']:.1f} s")  # fmt: skip
    print_load(figures, waits)
    wanted = demand(buyers, limit, greedy)
    expected = min(units, wanted)
    checks.append(
        Check(
            "exactly the units offered were sold (the crowd wanted more)"
            if wanted >= units
            else "every unit wanted was sold (the crowd wanted fewer than offered)",
            figures["orders_units"] == expected,
            f"{figures['orders_units']} units on {figures['orders']} orders, {units} offered, {wanted} wanted",
        )
    )
    retried = sum(n for outcome, n in outcomes.items() if outcome.startswith("retry"))
    wrong = outcomes.get("retry answered otherwise", 0)
    checks.append(
        Check(
            "every retry of an accepted purchase (same Idempotency-Key) got its checkout back",
            wrong == 0,
            f"{wrong} of {retried} answered otherwise (details in locust_failures.csv)",
        )
    )
    checks += failure_checks(out, results)
    finish(out, stats, checks, figures)


async def prepare_sale(
    database_url: str, url: str, buyers: int, units: int, limit: int, starts_at: datetime, out: Path
) -> tuple[int, int]:
    """The sale's SKU gets exactly `units` on the shelf; `buyers` new buyers with an address and a token
    (in out/buyers.json); its vendor schedules the sale through the API. Returns the sale's id and the
    SKU's units on hand. Public: benchmarks/flash_sale.py prepares its sale with it too."""
    conn = await asyncpg.connect(database_url)
    try:
        sku = await conn.fetchrow(
            "SELECT s.id, s.price, v.user_id FROM skus s JOIN products p ON p.id = s.product_id"
            " JOIN vendors v ON v.id = p.vendor_id WHERE p.status = 'listed' AND v.status = 'active'"
            " ORDER BY s.id LIMIT 1"
        )
        await conn.execute("UPDATE skus SET on_hand = reserved + $2 WHERE id = $1", sku["id"], units)
        buyers_made = await make_crowd(conn, buyers)
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
) -> tuple[list[Check], dict[str, Any]]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    conn = await asyncpg.connect(database_url)
    try:
        await asyncio.sleep(2.5)  # let the gate keeper finish any rebuild
        left = await redis.hget(gate_keys(sale_id)[0], "remaining")
        checks = await check_flash_sale(conn, sale_id, on_hand, accepted, None if left is None else int(left))
        figures = await conn.fetchrow(
            "SELECT count(DISTINCT o.id) AS orders, count(DISTINCT o.id) FILTER (WHERE o.status = 'paid') AS paid,"
            " coalesce(sum(l.quantity), 0)::int AS orders_units,"
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
@common("small")
def browse(users: int, seconds: int, workers: int, size: str, out: Path | None) -> None:
    """Visitors browsing and searching the catalog: product lists, searches, product pages."""
    out = report_dir("browse", out)
    with served(workers, size) as (database_url, _redis, url), sampling(database_url) as waits:
        locust_cpu = run_locust("browse.py", url, users, max(users // 5, 1), seconds, out)
    stats = read_stats(out)
    print_stats(stats)
    figures = {"users": users, "locust_cpu_seconds": locust_cpu, "locust_seconds": seconds}
    click.echo()
    print_load(figures, waits)
    finish(out, stats, failure_checks(out, merged(out)), figures)


@main.command()
@click.option("--sockets", default=500, show_default=True, help="vendor sockets watching their shop's orders")
@click.option("--shoppers", default=20, show_default=True, help="buyers checking out meanwhile")
@click.option("--seconds", default=30, show_default=True)
@common("tiny")
def vendors(sockets: int, shoppers: int, seconds: int, workers: int, size: str, out: Path | None) -> None:
    """Vendors holding live order sockets while shoppers check out; every socket must get every order of its
    shop placed while it was subscribed."""
    out = report_dir("vendors", out)
    with served(workers, size) as (database_url, _redis, url):
        asyncio.run(_prepare_shops(database_url, shoppers, out))
        env = {"LOADTEST_SETUP": str(out / "setup.json"), "LOADTEST_SOCKETS": str(sockets)}
        env["LOADTEST_WS"] = url.replace("http", "ws", 1) + "/feed"
        with sampling(database_url) as waits:
            locust_cpu = run_locust(
                "vendors.py", url, sockets + shoppers, max(sockets // 2, shoppers), seconds, out, **env
            )
        results = merged(out)
        shoppers_made = [buyer[0] for buyer in json.loads((out / "setup.json").read_text())["buyers"]]
        checks, figures = asyncio.run(_check_deliveries(database_url, results.get("sockets", []), shoppers_made))
    stats = read_stats(out)
    print_stats(stats)
    click.echo(f"\norders placed while the sockets listened: {figures['orders']}, "
               f"{figures['orders_per_second']:.1f}/s; deliveries expected: {figures['expected']}")  # fmt: skip
    figures |= {"locust_cpu_seconds": locust_cpu, "locust_seconds": seconds}
    print_load(figures, waits)
    finish(out, stats, checks + failure_checks(out, results), figures)


async def _prepare_shops(database_url: str, shoppers: int, out: Path) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE skus SET on_hand = reserved + 1000000")
        shops = await conn.fetch("SELECT id, user_id FROM vendors WHERE status = 'active' ORDER BY id")
        skus = await conn.fetch(
            "SELECT s.id FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id"
            " WHERE p.status = 'listed' AND v.status = 'active'"
        )
        shoppers_made = await make_crowd(conn, shoppers)
    finally:
        await conn.close()
    setup = {
        "vendors": [[v["id"], access_token(v["user_id"], SECRET, 120)] for v in shops],
        "buyers": shoppers_made,
        "skus": [r["id"] for r in skus],
    }
    (out / "setup.json").write_text(json.dumps(setup))


async def _check_deliveries(
    database_url: str, watched: list[dict[str, Any]], shoppers: list[int]
) -> tuple[list[Check], dict[str, Any]]:
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
                topics.vendor_orders(socket["vendor_id"]),
                socket["since"],
                socket["last"],
            )
            expected_total += len(expected)
            missing += len({r["order_id"] for r in expected} - set(socket["orders"]))
            duplicated += len(socket["orders"]) - len(set(socket["orders"]))
        row = await conn.fetchrow(
            "SELECT count(*) AS orders, coalesce(extract(epoch FROM max(created_at) - min(created_at)), 0)::float"
            " AS span FROM orders WHERE buyer_id = ANY($1::bigint[])",
            shoppers,
        )
    finally:
        await conn.close()
    subscribed = sum(1 for s in watched if s["since"] is not None)
    figures = {"sockets": len(watched), "orders": row["orders"], "expected": expected_total}
    figures["orders_per_second"] = row["orders"] / max(row["span"], 1e-3)
    checks = [
        Check(
            "every socket subscribed", bool(watched) and subscribed == len(watched), f"{subscribed} of {len(watched)}"
        ),
        Check("no order missed by a socket", missing == 0, f"{missing} missing of {expected_total} expected"),
        Check("no order delivered twice", duplicated == 0, f"{duplicated} duplicates"),
    ]
    return checks, figures


from loadtest import group_buy_run  # noqa: E402, F401  (registers `group-buy` on `main`; it imports this module)
