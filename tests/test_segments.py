"""Stored customer segments (computed by the analytics worker, listed with sizes, value and trend), campaigns
to a segment with a random holdout, and the uplift report: its statistics checked on simulated campaigns
with a known true effect, and end to end on the seeded demo with a real checkout that uses the offer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from analytics.cli import analytics
from analytics.segments import compute
from analytics.uplift import means, proportions, split
from analytics.worker import Worker
from marketplace.core.db import create_pool
from marketplace.payments.sandbox import SIGNATURE_HEADER, SandboxGateway
from marketplace.seed.loader import DEMO_PASSWORD, seed
from marketplace.settings import Settings
from tests.conftest import ADDRESS, Actor, sign_up

RFM_RULES = {  # (R, FM) pairs of each segment, as docs/analytics.md gives them
    "Champions": lambda r, fm: r >= 4 and fm >= 4,
    "Can't Lose Them": lambda r, fm: r == 1 and fm >= 4,
    "At Risk": lambda r, fm: r <= 2 and 3 <= fm <= 5 and not (r == 1 and fm >= 4),
    "Loyal": lambda r, fm: r >= 3 and fm >= 3 and not (r >= 4 and fm >= 4),
    "New": lambda r, fm: r == 5 and fm == 1,
    "Promising": lambda r, fm: r == 4 and fm == 1,
    "Potential Loyalist": lambda r, fm: r >= 4 and fm == 2,
    "Need Attention": lambda r, fm: r == 3 and fm == 2,
    "About to Sleep": lambda r, fm: (r == 3 and fm == 1) or (r == 2 and fm <= 2),
    "Lost": lambda r, fm: r == 1 and fm <= 2,
}


def test_conversion_uplift_intervals_cover_a_known_effect() -> None:
    """Simulated campaigns where the offer lifts conversion from 10% to 13%: the estimate is near 3 points,
    and over 400 campaigns the 95% intervals hold the true effect about 95% of the time."""
    rng = np.random.default_rng(7)
    covered, excludes_zero = 0, 0
    for _ in range(400):
        treated, held = rng.binomial(1, 0.13, 4_000), rng.binomial(1, 0.10, 1_000)
        estimate = proportions(int(treated.sum()), len(treated), int(held.sum()), len(held))
        covered += estimate.low <= 0.03 <= estimate.high
        excludes_zero += estimate.low > 0
    assert 0.92 <= covered / 400 <= 0.98
    assert excludes_zero / 400 > 0.5  # the power to see a 3-point lift with 1,000 held out
    big = proportions(13_000, 100_000, 2_500, 25_000)
    assert big.difference == pytest.approx(0.03) and big.low > 0.025 and big.high < 0.035
    assert proportions(0, 10, 0, 10).low < 0 < proportions(0, 10, 0, 10).high  # no events: no claim either way


def test_revenue_uplift_intervals_cover_a_known_effect() -> None:
    """Revenue per member: most members spend nothing, buyers spend log-normally; the offer lifts conversion
    from 8% to 10% and leaves the basket alone, so the true lift is 2% of the mean basket."""
    rng = np.random.default_rng(11)
    basket = float(np.exp(3.5 + 0.8**2 / 2) * 100)  # the log-normal's mean, in cents
    truth = (0.10 - 0.08) * basket
    covered = 0
    for _ in range(300):
        treated = rng.binomial(1, 0.10, 3_000) * rng.lognormal(3.5, 0.8, 3_000) * 100
        held = rng.binomial(1, 0.08, 1_500) * rng.lognormal(3.5, 0.8, 1_500) * 100
        estimate = means(treated, held)
        covered += estimate.low <= truth <= estimate.high
    assert 0.92 <= covered / 300 <= 0.98


def test_the_holdout_is_random_and_the_share_asked_for() -> None:
    members = list(range(1, 1_001))
    treatment, holdout = split(members, 0.2, np.random.default_rng(1))
    assert len(holdout) == 200 and sorted(treatment + holdout) == members
    other, _ = split(members, 0.2, np.random.default_rng(2))
    assert other != treatment
    assert np.mean(holdout) == pytest.approx(500, rel=0.1)  # not the first or last fifth
    assert split([1, 2], 0.05, np.random.default_rng(0))[1] != []  # at least one held out


def test_segments_cover_every_customer_once() -> None:
    rng = np.random.default_rng(3)
    now = pd.Timestamp("2026-11-22", tz="UTC")
    activity = rng.pareto(1.5, 2_000) + 1
    buyers = rng.choice(2_000, 20_000, p=activity / activity.sum())
    purchases = pd.DataFrame({
        "buyer_id": buyers,
        "created_at": now - pd.to_timedelta(rng.uniform(0, 365, len(buyers)), unit="D"),
        "total": np.round(rng.lognormal(3.5, 0.8, len(buyers)) * 100).astype(np.int64),
    })  # fmt: skip
    computed = compute(purchases, now)
    table = computed.table
    assert len(table) == len(set(buyers))
    assert table["cluster"].notna().all() and table["clv"].notna().all() and (table["clv"] >= 0).all()
    assert {s[1] for s in computed.segments if s[0] == "cluster"} == set(table["cluster"])
    assert computed.summary["k"] == len(set(table["cluster"]))
    # the customers who buy most often are worth the most over the next year
    top = table["frequency"] >= table["frequency"].quantile(0.9)
    assert table.loc[top, "clv"].mean() > 3 * table.loc[~top, "clv"].mean()


async def marketer(client: AsyncTestClient[Litestar], db: asyncpg.Connection, email: str) -> Actor:
    actor = await sign_up(client, email)
    await db.execute("UPDATE users SET roles = '{buyer,marketer}' WHERE id = $1", actor.id)
    return actor


async def test_segments_are_computed_by_the_worker_and_listed_with_trend(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings, buyer: Actor
) -> None:
    await seed(db, "small", 2, quiet=True)
    ann = await marketer(client, db, "ann@example.com")
    assert (await buyer.get("/marketing/segments")).status_code == 403
    assert (await buyer.post("/marketing/segment-runs")).status_code == 403
    vendor = await client.post("/auth/login", json={"identifier": "vendor1@demo.test", "password": DEMO_PASSWORD})
    vendor_headers = {"Authorization": f"Bearer {vendor.json()['access_token']}"}
    assert (await client.get("/marketing/segments", headers=vendor_headers)).status_code == 403
    assert (await ann.get("/marketing/segments")).json() == []  # nothing computed yet

    queued = await ann.post("/marketing/segment-runs")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert (await ann.post("/marketing/segment-runs")).json()["id"] == queued.json()["id"]  # one waits at a time
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        worker = Worker(pool, every_hours=24)
        assert await worker.step() == queued.json()["id"]
        assert await worker.step() is None  # nothing queued, the schedule not due
        run = (await ann.get(f"/marketing/segment-runs/{queued.json()['id']}")).json()
        customers = await db.fetchval(
            "SELECT count(DISTINCT buyer_id) FROM orders WHERE status IN ('paid', 'confirmed', 'accepted', "
            "'shipped', 'delivered', 'completed')"
        )
        assert run["status"] == "done" and run["customers"] == customers > 20

        listed = (await ann.get("/marketing/segments")).json()
        rfm = [s for s in listed if s["kind"] == "rfm"]
        assert {s["name"] for s in rfm} == set(RFM_RULES)
        assert sum(s["members"] for s in rfm) == customers
        clusters = [s for s in listed if s["kind"] == "cluster"]
        assert len(clusters) == run["summary"]["k"] and sum(s["members"] for s in clusters) == customers
        assert all(s["trend"] == [s["members"]] and s["change"] is None for s in listed)
        spent = await db.fetchval(
            "SELECT sum(total) FROM orders WHERE status IN ('paid', 'confirmed', 'accepted', 'shipped', "
            "'delivered', 'completed')"
        )
        assert sum(s["monetary"] for s in rfm) == spent

        for segment in rfm:  # every member's scores obey its segment's rule; pages cover every member once
            seen: list[dict[str, Any]] = []
            cursor = None
            while True:
                params = {"limit": 40} | ({"cursor": cursor} if cursor else {})
                page = (await ann.get(f"/marketing/segments/{segment['id']}/members", params=params)).json()
                seen += page["items"]
                if not (cursor := page["next_cursor"]):
                    break
            assert len({m["buyer_id"] for m in seen}) == len(seen) == segment["members"]
            rule = RFM_RULES[segment["name"]]
            assert all(rule(m["r"], int(np.floor((m["f"] + m["m"]) / 2 + 0.5))) for m in seen), segment["name"]

        csv = await ann.get("/marketing/segments", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0] == "kind,segment,members,value,clv,change"
        assert len(csv.text.splitlines()) == len(listed) + 1
        chart = await ann.get("/marketing/segments", params={"format": "png", "kind": "rfm"})
        assert chart.headers["content-type"] == "image/png" and chart.content.startswith(b"\x89PNG")

        # A new customer, then the schedule comes round: the trend shows both runs.
        await db.execute("UPDATE segment_runs SET created_at = created_at - interval '25 hours'")
        assert await worker.step() is not None
        again = (await ann.get("/marketing/segments", params={"kind": "rfm"})).json()
        assert all(len(s["trend"]) == 2 and s["change"] == s["trend"][1] - s["trend"][0] for s in again)
        assert (await ann.get("/marketing/segments/999999")).status_code == 404
        assert (await ann.get("/marketing/segments", params={"kind": "nope"})).status_code == 400
    finally:
        await pool.close()


async def login(client: AsyncTestClient[Litestar], email: str) -> Actor:
    r = await client.post("/auth/login", json={"identifier": email, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    me = await client.get("/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    return Actor(client, me.json(), r.json())


async def test_a_campaign_offers_a_segment_a_coupon_and_measures_uplift_against_the_holdout(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings
) -> None:
    await seed(db, "small", 2, quiet=True)
    ann = await marketer(client, db, "ann@example.com")
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        await segments_now(ann, pool)
    finally:
        await pool.close()
    listed = (await ann.get("/marketing/segments", params={"kind": "rfm"})).json()
    segment = max(listed, key=lambda s: s["members"])
    now = datetime.now(UTC)
    coupon = {"name": "We miss you: 5 off", "kind": "fixed", "audience": "issued", "amount_off": 500,
              "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}  # fmt: skip
    coupon_id = (await ann.post("/marketing/coupons", json=coupon)).json()["id"]
    code = await ann.post("/marketing/coupons", json=coupon | {"audience": "code", "code": "HELLO5"})
    body = {"name": "Win back", "segment_id": segment["id"], "coupon_id": coupon_id,
            "message": "5 off your next order", "holdout_share": 0.25}  # fmt: skip

    assert (await ann.post("/marketing/campaigns", json=body | {"segment_id": 999_999})).status_code == 404
    assert (await ann.post("/marketing/campaigns", json=body | {"coupon_id": code.json()["id"]})).status_code == 422
    shops_coupon = await db.fetchval("SELECT id FROM coupons WHERE vendor_id IS NOT NULL LIMIT 1")
    assert (await ann.post("/marketing/campaigns", json=body | {"coupon_id": shops_coupon})).status_code == 404
    assert (await ann.post("/marketing/campaigns", json=body | {"holdout_share": 0.9})).status_code == 400
    assert await db.fetchval("SELECT count(*) FROM campaigns") == 0

    key = {"Idempotency-Key": "win-back-1"}
    launched = await client.post("/marketing/campaigns", json=body, headers=ann.headers | key)
    assert launched.status_code == 201, launched.text
    campaign = launched.json()
    again = await client.post("/marketing/campaigns", json=body, headers=ann.headers | key)
    assert again.json() == campaign and await db.fetchval("SELECT count(*) FROM campaigns") == 1
    assert campaign["treatment"] + campaign["holdout"] == segment["members"]
    assert campaign["holdout"] == round(segment["members"] * 0.25)
    arms = {r["buyer_id"]: r["arm"] for r in await db.fetch("SELECT buyer_id, arm FROM campaign_members")}
    granted = {
        r["buyer_id"] for r in await db.fetch("SELECT buyer_id FROM coupon_grants WHERE coupon_id = $1", coupon_id)
    }
    assert granted == {b for b, arm in arms.items() if arm == "treatment"}  # the holdout saw nothing
    offers = await db.fetch("SELECT topic, payload FROM events WHERE type = 'campaign.offer'")
    assert sorted(r["topic"] for r in offers) == sorted(f"user:{b}" for b in granted)
    assert offers[0]["payload"]["message"] == "5 off your next order"

    # One member who got the offer buys with it; nobody else buys in the window.
    member = min(granted)
    email = await db.fetchval("SELECT email FROM users WHERE id = $1", member)
    shopper = await login(client, email)
    sku = await db.fetchval(
        "SELECT s.id FROM skus s JOIN products p ON p.id = s.product_id JOIN vendors v ON v.id = p.vendor_id"
        " WHERE s.available > 0 AND s.price > 2000 AND p.status = 'listed' AND v.status = 'active'"
        " ORDER BY s.id LIMIT 1"
    )
    assert (await shopper.put(f"/cart/items/{sku}", json={"quantity": 1})).status_code == 200
    address = (await shopper.post("/me/addresses", json=ADDRESS)).json()
    placed = (await shopper.post("/checkouts", json={"address_id": address["id"]})).json()
    assert placed["coupon_id"] == coupon_id and placed["discount_total"] == 500
    payment = (await shopper.post(f"/checkouts/{placed['id']}/payments", json={})).json()["payment"]
    callback, signature = SandboxGateway(settings.webhook_secret).callback(
        payment["provider_ref"], payment["amount"], "EUR"
    )
    await client.post("/payments/webhooks/sandbox", content=callback, headers={SIGNATURE_HEADER: signature})

    report = (await ann.get(f"/marketing/campaigns/{campaign['id']}/report")).json()
    treated, held = report["treatment"], report["holdout"]
    assert (treated["members"], treated["converted"], treated["redeemed"]) == (campaign["treatment"], 1, 1)
    assert (held["members"], held["converted"], held["revenue"]) == (campaign["holdout"], 0, 0)
    assert treated["revenue"] == placed["grand_total"]
    uplift = report["conversion_uplift"]
    assert uplift["difference"] == pytest.approx(1 / campaign["treatment"])
    assert uplift["low"] < 0 < uplift["high"]  # one purchase proves nothing
    assert report["revenue_per_member_uplift"]["difference"] == pytest.approx(
        placed["grand_total"] / campaign["treatment"]
    )
    assert report["complete"] is False and report["confidence"] == 0.95
    csv = (await ann.get(f"/marketing/campaigns/{campaign['id']}/report", params={"format": "csv"})).text
    assert csv.splitlines()[0].startswith("arm,members,redeemed,converted") and len(csv.splitlines()) == 3
    chart = await ann.get(f"/marketing/campaigns/{campaign['id']}/report", params={"format": "png"})
    assert chart.content.startswith(b"\x89PNG")
    assert (await shopper.get(f"/marketing/campaigns/{campaign['id']}/report")).status_code == 403


async def segments_now(marketer: Actor, pool: asyncpg.Pool) -> None:
    await marketer.post("/marketing/segment-runs")
    assert await Worker(pool).step() is not None


async def test_the_segments_command_computes_and_prints_them(
    db: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await seed(db, "small", 2, quiet=True)
    isolated = msgspec.structs.replace(settings, data_dir=tmp_path)
    result = await asyncio.to_thread(CliRunner().invoke, analytics, ["segments"], obj=isolated)
    assert result.exit_code == 0, result.output
    assert "Champions" in result.output and "cluster" in result.output
    assert await db.fetchval("SELECT status FROM segment_runs") == "done"


async def test_asking_for_a_run_many_times_at_once_queues_one(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings
) -> None:
    ann = await marketer(client, db, "ann@example.com")
    answers = await asyncio.gather(*(ann.post("/marketing/segment-runs") for _ in range(20)))
    assert {r.status_code for r in answers} == {202}
    assert len({r.json()["id"] for r in answers}) == 1
    assert await db.fetchval("SELECT count(*) FROM segment_runs") == 1
    pool = await create_pool(settings.database_url, 1, 4)
    try:  # two workers at once: the run is computed once, and nothing else is queued
        done = await asyncio.gather(Worker(pool).step(), Worker(pool).step())
        assert sorted(done, key=lambda r: r is None) == [answers[0].json()["id"], None]
        assert await db.fetchval("SELECT status FROM segment_runs") == "done"
    finally:
        await pool.close()
