"""Targeted campaigns: a segment's members, an issued coupon and a message, with a random holdout.

Launching takes the segment's members as they are in the run it belongs to, leaves out those who hold the
coupon already (from another campaign, or issued by hand: in the holdout they would not have "seen nothing",
in the treatment the offer would not be what changed), holds out a random share of the others as the
control group, issues the coupon to the rest (`promotions.service.issue`, which appends `coupon.issued` to
each buyer's feed) and appends `campaign.offer` with the message, all in one transaction: a campaign exists
with all its members and offers, or not at all. A retry with the same Idempotency-Key replays it.

The report compares the two arms over the campaign's window (purchases placed after launch, before the
window closes): redemption, conversion, revenue per member, and the uplift of the treatment over the holdout
with confidence intervals (analytics/uplift.py), and a sample ratio mismatch check of the arms' sizes against
the split asked for. The holdout saw nothing, so the difference is what the offer caused, up to chance,
which the interval states."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import numpy as np

from analytics import queries as q
from analytics import segments
from analytics.schemas import Arm, CampaignIn, CampaignOut, CampaignReport, SampleRatio, Uplift
from analytics.uplift import SRM_ALPHA, Estimate, means, proportions, sample_ratio, split
from marketplace.core import topics
from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound, Unprocessable
from marketplace.core.events import append_events
from marketplace.core.paging import Page, fetch_page
from marketplace.promotions.service import issue, owned

CONFIDENCE = 0.95


async def launch(conn: asyncpg.Connection, actor_id: int, data: CampaignIn) -> CampaignOut:
    """Runs in the caller's transaction (see the module docstring)."""
    await segments.get(conn, data.segment_id)  # 404 for an unknown segment
    coupon = await owned(conn, data.coupon_id, None)  # the platform's: a shop's coupon is not the marketers' to see
    if coupon.audience != "issued":
        raise Unprocessable("a campaign's coupon must be issued to chosen buyers (audience 'issued')")
    members = [r["buyer_id"] for r in await conn.fetch(q.MEMBER_IDS, data.segment_id)]
    holders = {r["buyer_id"] for r in await conn.fetch(q.HOLDERS, data.coupon_id, members)}
    members = [buyer for buyer in members if buyer not in holders]
    if len(members) < 2:
        raise Conflict(
            "the segment needs at least two members who do not hold the coupon yet: one for the offer, one held out"
        )
    treatment, holdout = split(members, data.holdout_share, np.random.default_rng(secrets.randbits(64)))
    row = await conn.fetchrow(
        q.INSERT_CAMPAIGN, data.name, data.segment_id, data.coupon_id, data.message, data.holdout_share,
        data.window_days, actor_id,
    )  # fmt: skip
    arms = ["treatment"] * len(treatment) + ["holdout"] * len(holdout)
    await conn.execute(q.INSERT_ARMS, row["id"], treatment + holdout, arms)
    await issue(conn, actor_id, data.coupon_id, treatment)
    offer = {"campaign_id": row["id"], "message": data.message, "coupon_id": data.coupon_id, "name": coupon.name}
    await append_events(conn, [(topics.user(buyer), "campaign.offer", offer) for buyer in treatment])
    counts = {"segment_id": data.segment_id, "treatment": len(treatment), "holdout": len(holdout),
              "excluded": len(holders)}  # fmt: skip
    await record_audit(conn, actor_id, "campaign.launched", "campaign", row["id"], None, counts)
    return await get(conn, row["id"])


async def get(db: asyncpg.Pool | asyncpg.Connection, campaign_id: int) -> CampaignOut:
    row = await db.fetchrow(q.GET_CAMPAIGN, campaign_id)
    if row is None:
        raise NotFound("no such campaign")
    return CampaignOut(**dict(row))


async def listing(db: asyncpg.Pool, before: int | None, limit: int) -> Page[CampaignOut]:
    return await fetch_page(db, q.CAMPAIGNS, before, limit=limit, convert=lambda r: CampaignOut(**dict(r)))


async def report(db: asyncpg.Pool, campaign_id: int) -> CampaignReport:
    campaign = await get(db, campaign_id)
    rows = await db.fetch(q.OUTCOMES, campaign_id)
    outcome = {arm: [r for r in rows if r["arm"] == arm] for arm in ("treatment", "holdout")}
    converted = {arm: sum(r["purchases"] > 0 for r in members) for arm, members in outcome.items()}
    revenue = {arm: np.array([r["revenue"] for r in members], dtype=float) for arm, members in outcome.items()}
    treated, held = len(outcome["treatment"]), len(outcome["holdout"])
    conversion = proportions(converted["treatment"], treated, converted["holdout"], held, CONFIDENCE)
    spend = means(revenue["treatment"], revenue["holdout"], CONFIDENCE)
    ends = campaign.launched_at + timedelta(days=campaign.window_days)
    chi_square, p_value = sample_ratio(treated, held, campaign.holdout_share)
    ratio = SampleRatio(campaign.holdout_share, held / (treated + held) if treated + held else 0.0, chi_square,
                        p_value, p_value < SRM_ALPHA)  # fmt: skip
    return CampaignReport(
        campaign=campaign,
        window_ends_at=ends,
        complete=datetime.now(UTC) >= ends,
        confidence=CONFIDENCE,
        treatment=_arm(outcome["treatment"], converted["treatment"], revenue["treatment"]),
        holdout=_arm(outcome["holdout"], converted["holdout"], revenue["holdout"]),
        conversion_uplift=_uplift(conversion),
        revenue_per_member_uplift=_uplift(spend),
        sample_ratio=ratio,
    )


def _arm(members: list[asyncpg.Record], converted: int, revenue: np.ndarray) -> Arm:
    n = len(members)
    return Arm(
        members=n,
        redeemed=sum(r["redeemed"] for r in members),
        converted=converted,
        conversion=converted / n if n else 0.0,
        revenue=int(revenue.sum()),
        revenue_per_member=float(revenue.mean()) if n else 0.0,
    )


def _uplift(estimate: Estimate) -> Uplift:
    return Uplift(estimate.difference, estimate.low, estimate.high, estimate.relative)


def report_rows(report: CampaignReport) -> list[dict[str, object]]:
    """The report as rows (arm by arm), for CSV."""
    return [{"arm": arm, **msgspec.structs.asdict(getattr(report, arm))} for arm in ("treatment", "holdout")]
