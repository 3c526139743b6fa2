"""Edge cases of customer analytics, each on a small table worked out by hand: months of cohort age in which
nobody bought, churn at the report's date, RFM ties, customers too alike to cluster, and campaigns whose
segment holds the coupon already, with the sample ratio mismatch check of their arms."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pandas as pd
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from analytics.charts import cohort_figure
from analytics.clusters import Unclusterable, cluster
from analytics.cohorts import churn_rate, churn_rate_at, retention
from analytics.rfm import rfm
from analytics.segments import compute
from analytics.uplift import sample_ratio
from analytics.worker import Worker
from marketplace.core.db import create_pool
from marketplace.settings import Settings
from tests.conftest import Actor, sign_up

# Cohort January (buyers 1, 2) and February (buyer 3): nobody of any cohort buys one month after the first
# purchase, buyer 1 and buyer 3 come back two months after, and April is the last month in the data.
MONTHS = [(1, "2025-01-06"), (2, "2025-01-20"), (3, "2025-02-03"), (1, "2025-03-10"), (3, "2025-04-07")]
JANUARY = [1.0, 0.0, 0.5, 0.0]  # months 0-3: both, nobody, buyer 1 of 2, nobody
FEBRUARY = [1.0, 0.0, 1.0]  # months 0-2; month 3 (May) is not in the data yet


def frame(rows: list[tuple[int, str]]) -> pd.DataFrame:
    buyers, days = zip(*rows, strict=True)
    return pd.DataFrame({"buyer_id": buyers, "created_at": pd.to_datetime(list(days), utc=True), "total": 1_000})


def test_retention_has_every_month_of_age_even_when_nobody_bought_in_it() -> None:
    table = retention(frame(MONTHS))
    assert table.columns.tolist() == [0, 1, 2, 3]
    assert table.loc[pd.Period("2025-01", "M")].tolist() == JANUARY
    february = table.loc[pd.Period("2025-02", "M")]
    assert february.iloc[:3].tolist() == FEBRUARY and np.isnan(february[3])
    # The heatmap has a column per month, even for a matrix that lacks one, and month 1 is drawn as 0%.
    for matrix in (table.drop(columns=[1]), table):
        axes = cohort_figure(matrix).axes[0]
        assert [t.get_text() for t in axes.get_xticklabels()] == ["0", "1", "2", "3"]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert cells[0, 1] == "0%" and cells[0, 2] == "50%" and (1, 3) not in cells


def test_churn_is_ninety_days_without_a_purchase_at_the_as_of_date() -> None:
    as_of = pd.Timestamp("2026-06-30", tz="UTC")
    ago = {1: [150], 2: [150, 60], 3: [100, 20], 4: [200], 5: [10]}  # days before as_of
    orders = frame([(b, str((as_of - pd.Timedelta(days=d)).date())) for b, days in ago.items() for d in days])
    # Active 90 days before (a purchase 90-180 days before as_of): 1, 2, 3. Buyer 1 has not bought for 150
    # days: churned. Buyer 2 last bought 60 days ago: not churned, though a 30-day window called it lapsed.
    assert churn_rate_at(orders, as_of) == pytest.approx(1 / 3)
    assert churn_rate(orders, as_of - pd.Timedelta(days=30), as_of) == 0.5  # the old report's figure


def test_equal_customers_get_equal_rfm_scores() -> None:
    now = pd.Timestamp("2026-06-01", tz="UTC")
    alike = pd.DataFrame({"buyer_id": range(10), "created_at": now - pd.Timedelta(days=7), "total": 2_500})
    scores = rfm(alike, now)
    assert all(scores[c].nunique() == 1 for c in ("R", "F", "M"))

    # Ten customers: days since the last purchase, purchases, and their total. Scores are ceil(rank / 2)
    # with equal values sharing their lowest rank (rank 1 = worst).
    days = [200, 200, 150, 100, 100, 100, 50, 20, 10, 1]
    purchases = [1, 1, 1, 1, 2, 2, 3, 4, 5, 6]
    spent = [100, 100, 100, 200, 200, 300, 400, 500, 600, 700]
    rows = [(b, now - pd.Timedelta(days=d + n), spent[b] if n == 0 else 0)
            for b, (d, f) in enumerate(zip(days, purchases, strict=True)) for n in range(f)]  # fmt: skip
    table = rfm(pd.DataFrame(rows, columns=["buyer_id", "created_at", "total"]), now)
    assert table["R"].tolist() == [1, 1, 2, 2, 2, 2, 4, 4, 5, 5]
    assert table["F"].tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]  # the four one-time buyers: all 1; no F 2
    assert table["M"].tolist() == [1, 1, 1, 2, 2, 3, 4, 4, 5, 5]
    assert table["FM"].tolist() == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    assert table["segment"].tolist() == ["Lost"] * 2 + ["About to Sleep"] * 2 + ["At Risk"] * 2 + ["Champions"] * 4


def test_k_never_exceeds_the_distinct_customers() -> None:
    profiles = [(5, 8, 9_000), (60, 2, 2_000), (300, 1, 300)]  # recency days, purchases, spend
    table = pd.DataFrame([p for p in profiles for _ in range(20)], columns=["recency_days", "frequency", "monetary"])
    found = cluster(table)
    assert found.k == 3 and set(found.silhouettes) == {2, 3}
    assert sorted(np.bincount(found.labels)) == [20, 20, 20]
    with pytest.raises(Unclusterable, match="all 60 customers have the same"):
        cluster(table.iloc[:1].loc[[0] * 60].reset_index(drop=True))
    with pytest.raises(Unclusterable, match="only 3 distinct profiles"):
        cluster(table, ks=range(4, 9))
    few = compute(frame([(b, "2026-05-01") for b in range(10)]), pd.Timestamp("2026-06-01", tz="UTC"))
    assert few.summary["clusters_skipped"] == "10 customers; clusters need 50"


def test_sample_ratio_mismatch_by_hand() -> None:
    assert sample_ratio(800, 200, 0.2) == (0.0, 1.0)
    chi_square, p = sample_ratio(850, 150, 0.2)  # expected 800 and 200: 50² / 800 + 50² / 200
    assert chi_square == pytest.approx(15.625) and p == pytest.approx(math.erfc(math.sqrt(15.625 / 2)))
    assert p < 0.001 < sample_ratio(810, 190, 0.2)[1]


# --- on real PostgreSQL --------------------------------------------------------------------------------------


async def marketer(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> Actor:
    actor = await sign_up(client, "mia@example.com")
    await db.execute("UPDATE users SET roles = '{buyer,marketer}' WHERE id = $1", actor.id)
    return actor


async def buyers(db: asyncpg.Connection, n: int) -> list[int]:
    rows = await db.fetch(
        "INSERT INTO users (email, password_hash)"
        " SELECT 'edge-' || gen_random_uuid() || '@example.com', 'x' FROM generate_series(1, $1) RETURNING id",
        n,
    )
    return sorted(r["id"] for r in rows)


async def purchases(db: asyncpg.Connection, rows: list[tuple[int, datetime, int]]) -> None:
    """A paid checkout with one order per (buyer, when, total), from one shop."""
    owner = (await buyers(db, 1))[0]
    vendor = await db.fetchval(
        "INSERT INTO vendors (user_id, shop_name, contact_email, licence_number)"
        " VALUES ($1, 'Edge ' || $1::bigint, 'shop@example.com', 'LIC-1') RETURNING id",
        owner,
    )
    for buyer, when, total in rows:
        checkout = await db.fetchval(
            "INSERT INTO checkouts (buyer_id, status, currency, items_total, shipping_total, grand_total,"
            " shipping_address, expires_at, paid_at, created_at)"
            " VALUES ($1, 'paid', 'EUR', $2, 0, $2, '{}', $3, $3, $3) RETURNING id",
            buyer, total, when,
        )  # fmt: skip
        await db.execute(
            "INSERT INTO orders (checkout_id, buyer_id, vendor_id, status, currency, items_total, shipping_total,"
            " total, created_at) VALUES ($1, $2, $3, 'paid', 'EUR', $4, 0, $4, $5)",
            checkout, buyer, vendor, total, when,
        )  # fmt: skip


async def test_cohorts_route_keeps_empty_months_in_json_csv_and_png(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    mia = await marketer(client, db)
    ids = await buyers(db, 3)
    await purchases(db, [(ids[b - 1], datetime.fromisoformat(f"{d}T12:00:00+00:00"), 1_000) for b, d in MONTHS])
    found = (await mia.get("/analytics/cohorts")).json()
    assert [(c["cohort"], c["customers"], c["retention"]) for c in found["cohorts"]] == [
        ("2025-01", 2, JANUARY), ("2025-02", 1, FEBRUARY),
    ]  # fmt: skip
    csv = (await mia.get("/analytics/cohorts", params={"format": "csv"})).text.splitlines()
    assert csv == ["cohort,0,1,2,3", "2025-01,1.0,0.0,0.5,0.0", "2025-02,1.0,0.0,1.0,"]
    assert (await mia.get("/analytics/cohorts", params={"format": "png"})).content.startswith(b"\x89PNG")


async def test_cohorts_route_reports_churn_as_of_now(client: AsyncTestClient[Litestar], db: asyncpg.Connection) -> None:
    mia = await marketer(client, db)
    ids = await buyers(db, 5)
    now = datetime.now(UTC)
    ago = {0: [150], 1: [150, 60], 2: [100, 20], 3: [200], 4: [10]}  # as in the hand-worked test above
    await purchases(db, [(ids[b], now - timedelta(days=d), 1_000) for b, days in ago.items() for d in days])
    found = (await mia.get("/analytics/cohorts")).json()
    assert found["churn_days"] == 90 and found["churn_rate"] == pytest.approx(1 / 3)
    assert abs(datetime.fromisoformat(found["as_of"]) - now) < timedelta(minutes=1)
    assert found["churn_rate_30_days"] == 0.5  # kept for existing clients: not churn


async def test_a_run_of_identical_customers_keeps_rfm_and_says_why_there_are_no_clusters(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, settings: Settings
) -> None:
    mia = await marketer(client, db)
    ids = await buyers(db, 60)
    when = datetime.now(UTC) - timedelta(days=12)
    await purchases(db, [(buyer, when, 2_500) for buyer in ids])
    run_id = (await mia.post("/marketing/segment-runs")).json()["id"]
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        assert await Worker(pool).step() == run_id
    finally:
        await pool.close()
    run = (await mia.get(f"/marketing/segment-runs/{run_id}")).json()
    assert run["status"] == "done" and run["customers"] == 60, run
    assert run["summary"]["clusters_skipped"] == "all 60 customers have the same recency, frequency, spend and basket"
    assert "k" not in run["summary"]
    listed = (await mia.get("/marketing/segments")).json()
    assert [s for s in listed if s["kind"] == "cluster"] == []
    rfm_sizes = {s["name"]: s["members"] for s in listed if s["kind"] == "rfm"}
    assert len(rfm_sizes) == 10 and sum(rfm_sizes.values()) == 60
    assert max(rfm_sizes.values()) == 60  # equal customers, equal scores: one segment holds them all


async def test_a_campaign_leaves_out_holders_of_its_coupon_and_checks_its_sample_ratio(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection
) -> None:
    mia = await marketer(client, db)
    members = await buyers(db, 40)
    run = await db.fetchval("INSERT INTO segment_runs (status, trigger, finished_at) VALUES ('done', 'request', now())"
                            " RETURNING id")  # fmt: skip
    segment = await db.fetchval(
        "INSERT INTO segments (run_id, kind, key, name, description, members, monetary)"
        " VALUES ($1, 'rfm', 'lost', 'Lost', 'lowest recency, frequency and spend', 40, 40000) RETURNING id",
        run,
    )
    await db.executemany(
        "INSERT INTO segment_members (segment_id, buyer_id, recency_days, frequency, monetary, r, f, m)"
        " VALUES ($1, $2, 200, 1, 1000, 1, 1, 1)",
        [(segment, buyer) for buyer in members],
    )
    now = datetime.now(UTC)
    coupon = {"name": "Come back: 5 off", "kind": "fixed", "audience": "issued", "amount_off": 500,
              "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}  # fmt: skip
    coupon_id = (await mia.post("/marketing/coupons", json=coupon)).json()["id"]
    holders = members[::4]  # 10 members hold the coupon already, from an earlier issue
    await db.executemany("INSERT INTO coupon_grants (coupon_id, buyer_id) VALUES ($1, $2)",
                         [(coupon_id, b) for b in holders])  # fmt: skip
    body = {"name": "Win back", "segment_id": segment, "coupon_id": coupon_id, "message": "5 off", "holdout_share": 0.2}

    launched = await mia.post("/marketing/campaigns", json=body)
    assert launched.status_code == 201, launched.text
    campaign = launched.json()
    assert (campaign["treatment"], campaign["holdout"], campaign["excluded"]) == (24, 6, 10)
    arms = {r["buyer_id"]: r["arm"] for r in await db.fetch("SELECT buyer_id, arm FROM campaign_members")}
    assert set(arms) == set(members) - set(holders)
    granted = {
        r["buyer_id"] for r in await db.fetch("SELECT buyer_id FROM coupon_grants WHERE coupon_id = $1", coupon_id)
    }
    assert {b for b, arm in arms.items() if arm == "holdout"}.isdisjoint(granted)  # the holdout holds nothing
    assert (await mia.get(f"/marketing/campaigns/{campaign['id']}")).json()["excluded"] == 10

    report = (await mia.get(f"/marketing/campaigns/{campaign['id']}/report")).json()
    assert report["sample_ratio"] == {
        "expected_holdout_share": 0.2, "observed_holdout_share": 0.2, "chi_square": 0.0, "p_value": 1.0,
        "mismatch": False,
    }  # fmt: skip
    # The arms changed behind the split's back (9 of the treatment moved to the holdout): 15 and 15 where
    # 24 and 6 were asked for, chi-square 9² / 24 + 9² / 6 = 16.875, p = erfc(sqrt(16.875 / 2)).
    moved = sorted(b for b, arm in arms.items() if arm == "treatment")[:9]
    await db.execute("UPDATE campaign_members SET arm = 'holdout' WHERE buyer_id = ANY($1::bigint[])", moved)
    report = (await mia.get(f"/marketing/campaigns/{campaign['id']}/report")).json()
    ratio = report["sample_ratio"]
    assert ratio["chi_square"] == pytest.approx(16.875) and ratio["observed_holdout_share"] == 0.5
    assert ratio["p_value"] == pytest.approx(math.erfc(math.sqrt(16.875 / 2))) and ratio["mismatch"] is True
    chart = await mia.get(f"/marketing/campaigns/{campaign['id']}/report", params={"format": "png"})
    assert chart.content.startswith(b"\x89PNG")

    # When nearly everyone holds the coupon, no campaign is left to run.
    await db.executemany("INSERT INTO coupon_grants (coupon_id, buyer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                         [(coupon_id, b) for b in members[1:]])  # fmt: skip
    refused = await mia.post("/marketing/campaigns", json=body | {"name": "Again"})
    assert refused.status_code == 409 and "do not hold the coupon" in refused.text
