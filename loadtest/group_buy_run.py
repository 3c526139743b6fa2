"""The group-buy scenario of the runner (runner.py registers it):

    python -m loadtest group-buy [--buyers 1000] [--groups 50] [--group-size 10] [--unpaid 0.03] [--greedy 0.1]

One deal of a SKU with exactly `groups * size` units on the shelf; `groups` leaders start a group each and
pay; the rest of the buyers join through Locust (loadtest/group_buy.py), racing for the popular groups' last
seats. Then every group still open is closed (its deadline moved to now and the sweeper's expiry run), and
the invariants are checked: no group over-filled, no member charged for an unfilled group, no duplicate
membership, stock and ledger in step."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import click
import httpx

from loadtest.dbwaits import sampling
from loadtest.invariants import Check, check_group_buys
from loadtest.recording import merged
from loadtest.runner import (
    SECRET,
    UNLIMITED,
    WEBHOOK_SECRET,
    common,
    failure_checks,
    finish,
    main,
    make_crowd,
    print_load,
    print_stats,
    read_stats,
    report_dir,
    run_locust,
    served,
)
from marketplace.accounts.tokens import access_token
from marketplace.core.db import create_pool
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.workflows.group_buys import expire_groups


@main.command("group-buy")
@click.option("--buyers", default=1000, show_default=True, help="buyers in the crowd, leaders included")
@click.option("--groups", default=50, show_default=True, help="groups of the deal, one leader each")
@click.option("--group-size", default=10, show_default=True, help="paid members a group needs")
@click.option("--unpaid", default=0.03, show_default=True, help="share of joiners who never pay")
@click.option("--greedy", default=0.1, show_default=True, help="share retrying and joining twice")
@click.option("--spawn-rate", default=500.0, show_default=True, help="buyers arriving per second")
@click.option("--max-seconds", default=180, show_default=True, help="stop the crowd after this long regardless")
@common("tiny")
def group_buy(
    buyers: int, groups: int, group_size: int, unpaid: float, greedy: float, spawn_rate: float, max_seconds: int,
    workers: int, size: str, out: Path | None,
) -> None:  # fmt: skip
    """BUYERS joining GROUPS group buys of SIZE, then the database's invariants."""
    if buyers <= groups:
        raise click.BadParameter("there must be more buyers than groups (each group has a leader)")
    out = report_dir("group-buy", out)
    started = time.monotonic()
    with served(workers, size, **UNLIMITED, SANDBOX_GATEWAY="true") as (database_url, _, url):
        deal_id, group_ids, on_hand = asyncio.run(prepare(database_url, url, buyers, groups, group_size, out))
        click.echo(f"deal {deal_id}: {groups} groups of {group_size} started and paid by their leaders; "
                   f"{buyers - groups} buyers join at {spawn_rate:g}/s")  # fmt: skip
        env = {"LOADTEST_BUYERS": str(out / "buyers.json"), "LOADTEST_GROUPS": json.dumps(group_ids)}
        env |= {"LOADTEST_UNPAID": str(unpaid), "LOADTEST_GREEDY": str(greedy)}
        env |= {"LOADTEST_WEBHOOK_SECRET": WEBHOOK_SECRET, "LOADTEST_DEAL": str(deal_id)}
        crowd_started = time.monotonic()
        with sampling(database_url) as waits:
            locust_cpu = run_locust("group_buy.py", url, buyers - groups, spawn_rate, max_seconds, out, **env)
        crowd_seconds = time.monotonic() - crowd_started
        results = merged(out)
        checks, figures = asyncio.run(close_and_check(database_url, deal_id, on_hand, results.get("accepted", [])))
    stats = read_stats(out)
    print_stats(stats)
    outcomes = results.get("outcomes", {})
    figures |= {"outcomes": outcomes, "crowd_seconds": crowd_seconds, "wall_seconds": time.monotonic() - started}
    figures |= {"locust_cpu_seconds": locust_cpu, "locust_seconds": crowd_seconds}
    figures["joins_per_second"] = outcomes.get("joined", 0) / max(crowd_seconds, 1e-3)
    click.echo(f"\noutcomes: {dict(sorted(outcomes.items()))}")
    joins = outcomes.get("joined", 0)
    click.echo(f"groups: {figures['filled']} filled, {figures['expired']} expired of {groups}; {joins} joins in "
               f"{crowd_seconds:.1f} s ({figures['joins_per_second']:.0f}/s)")  # fmt: skip
    print_load(figures, waits)
    for name, bad in (("retry", "retry answered otherwise"), ("second join", "second join answered otherwise")):
        wrong, asked = outcomes.get(bad, 0), sum(n for o, n in outcomes.items() if o.startswith(name))
        checks.append(Check(f"every {name} of an accepted join was answered rightly", wrong == 0,
                            f"{wrong} of {asked} answered otherwise (details in locust_failures.csv)"))  # fmt: skip
    seats = groups * group_size
    checks.append(
        Check(
            "every seat was taken (the crowd wanted more)" if buyers >= seats else "every buyer found a seat",
            figures["seats_taken"] == min(seats, buyers),
            f"{figures['seats_taken']} seats taken of {seats}, {buyers} buyers",
        )
    )
    checks += failure_checks(out, results)
    finish(out, stats, checks, figures)


async def prepare(
    database_url: str, url: str, buyers: int, groups: int, group_size: int, out: Path
) -> tuple[int, list[int], int]:
    """The deal's SKU gets exactly one unit per seat; the buyers are made (the first `groups` lead, the rest
    go to out/buyers.json); the vendor opens the deal and each leader starts a group and pays, through the
    API. Returns the deal's id, the groups' ids and the SKU's units on hand."""
    conn = await asyncpg.connect(database_url)
    try:
        sku = await conn.fetchrow(
            "SELECT s.id, s.price, v.user_id FROM skus s JOIN products p ON p.id = s.product_id"
            " JOIN vendors v ON v.id = p.vendor_id WHERE p.status = 'listed' AND v.status = 'active'"
            " ORDER BY s.id LIMIT 1"
        )
        await conn.execute("UPDATE skus SET on_hand = reserved + $2 WHERE id = $1", sku["id"], groups * group_size)
        made = await make_crowd(conn, buyers)
        await conn.execute("ANALYZE")
        on_hand = await conn.fetchval("SELECT on_hand FROM skus WHERE id = $1", sku["id"])
    finally:
        await conn.close()
    leaders, joiners = made[:groups], made[groups:]
    (out / "buyers.json").write_text(json.dumps(joiners))
    vendor = {"Authorization": f"Bearer {access_token(sku['user_id'], SECRET, 10)}"}
    now = datetime.now(UTC)
    body = {"sku_id": sku["id"], "group_price": max(1, sku["price"] // 2), "group_size": group_size,
            "group_minutes": 60, "per_buyer_limit": 1, "starts_at": (now - timedelta(seconds=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat()}  # fmt: skip
    gateway = SandboxGateway(WEBHOOK_SECRET)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.post("/vendor/group-buys", json=body, headers=vendor)
        r.raise_for_status()
        deal_id = r.json()["id"]

        async def lead(buyer_id: int, token: str, address_id: int) -> int:
            auth = {"Authorization": f"Bearer {token}"}
            r = await client.post(f"/group-buys/deals/{deal_id}/groups", json={"address_id": address_id}, headers=auth)
            r.raise_for_status()
            joined = r.json()
            r = await client.post(f"/checkouts/{joined['checkout']['id']}/payments", json={}, headers=auth)
            r.raise_for_status()
            payment = r.json()["payment"]
            callback, signature = gateway.callback(payment["provider_ref"], payment["amount"], payment["currency"])
            r = await client.post("/payments/webhooks/sandbox", content=callback, headers={SIGNATURE_HEADER: signature})
            r.raise_for_status()
            return joined["group"]["id"]

        group_ids = [await lead(*leader) for leader in leaders]  # in order: the first groups are the popular ones
    return deal_id, group_ids, on_hand


async def close_and_check(
    database_url: str, deal_id: int, on_hand: int, accepted: list[list[int]]
) -> tuple[list[Check], dict[str, Any]]:
    """Close every group still open as its deadline would (the sweeper's own expiry), then check."""
    pool = await create_pool(database_url, 1, 4)
    try:
        async with pool.acquire() as conn:
            seats = await conn.fetchval("SELECT sum(seats_taken) FROM group_buys WHERE deal_id = $1", deal_id)
            await conn.execute(
                "UPDATE group_buys SET expires_at = now() - interval '1 second' WHERE deal_id = $1 AND status = 'open'",
                deal_id,
            )
        while await expire_groups(pool) > 0:
            pass
        async with pool.acquire() as conn:
            checks = await check_group_buys(conn, deal_id, on_hand, accepted)
            counts = dict(
                await conn.fetch("SELECT status, count(*) FROM group_buys WHERE deal_id = $1 GROUP BY 1", deal_id)
            )
    finally:
        await pool.close()
    return checks, {"filled": counts.get("filled", 0), "expired": counts.get("expired", 0), "seats_taken": seats}
