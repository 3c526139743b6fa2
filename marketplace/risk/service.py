"""Risk rules: a scan runs every rule over its window and turns what matches into alerts (deduplicated: one
live alert per rule and subject), holding the payouts of the orders a holding rule names; support and admins
acknowledge, confirm or dismiss an alert with a reason (audit-logged), and dismissing releases its holds.
Also: whether a shop's new listing waits for review, and the failed logins the login rule reads."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from marketplace.core.audit import record_audit
from marketplace.core.errors import Conflict, NotFound
from marketplace.core.paging import Page, fetch_page
from marketplace.core.states import Actor
from marketplace.risk import HOLDING_RULES, TRANSITIONS, AlertStatus, Rule, trust
from marketplace.risk import queries as q
from marketplace.risk.rules import BUILDERS, Alert, Thresholds, parameters
from marketplace.risk.schemas import AlertOut, RuleResult, ScanOut

log = logging.getLogger(__name__)

LISTING_REVIEW_MODES = ("off", "new_or_flagged", "all")


# Scanning


async def _raise(conn: asyncpg.Connection, alert: Alert) -> bool | None:
    """Insert or refresh the alert and hold its orders; True: new, False: refreshed, None: kept quiet by a
    dismissal newer than its evidence."""
    row = await conn.fetchrow(
        q.UPSERT_ALERT, alert.rule, alert.subject, alert.vendor_id, alert.score, alert.evidence, alert.order_ids,
        alert.user_ids, alert.latest_at,
    )  # fmt: skip
    if row is None:
        return None
    if alert.rule in HOLDING_RULES and alert.order_ids:
        await conn.execute(q.INSERT_HOLDS, row["id"], alert.order_ids)
    return row["created"]


async def scan(
    db: asyncpg.Pool,
    thresholds: Thresholds | None = None,
    *,
    wait: bool = True,
    trust_window_days: int = 180,
    late_hours: int = 48,
) -> ScanOut:
    """Run every rule over the window and recompute the shops' trust scores, in one transaction. With
    `wait` False (the background loop) a scan already running elsewhere makes this one skip."""
    t = thresholds or Thresholds()
    since = datetime.now(UTC) - timedelta(days=t.window_days)
    results: list[RuleResult] = []
    async with db.acquire() as conn, conn.transaction():
        if wait:
            await conn.execute(q.SCAN_LOCK)
        elif not await conn.fetchval(q.TRY_SCAN_LOCK):
            return ScanOut(False, [], 0)
        found = {rule: [BUILDERS[rule](row, t) for row in await conn.fetch(q.RULES[rule], since, *parameters(rule, t))]
                 for rule in Rule}  # fmt: skip
        held_vendors = sorted({a.vendor_id for rule in HOLDING_RULES for a in found[rule] if a.vendor_id})
        await conn.execute(q.LOCK_VENDORS, held_vendors)
        for rule, alerts in found.items():
            outcomes = [await _raise(conn, alert) for alert in alerts]
            results.append(RuleResult(rule, len(alerts), outcomes.count(True), outcomes.count(False)))
        shops = await trust.recompute(conn, trust_window_days, late_hours)
    raised = sum(r.raised for r in results)
    if raised:
        log.warning("risk scan raised %d alert(s): %s", raised, {r.rule: r.raised for r in results if r.raised})
    return ScanOut(True, results, shops)


async def prune_login_failures(db: asyncpg.Pool, keep_days: int) -> None:
    await db.execute(q.PRUNE_LOGIN_FAILURES, keep_days)


# Alerts as support sees them


def _alert(row: asyncpg.Record) -> AlertOut:
    return msgspec.convert(dict(row), AlertOut)


async def alerts(
    db: asyncpg.Pool,
    status: AlertStatus | None,
    rule: Rule | None,
    vendor_id: int | None,
    cursor: int | None,
    limit: int,
) -> Page[AlertOut]:
    return await fetch_page(db, q.LIST_ALERTS, status, rule, vendor_id, cursor, limit=limit, convert=_alert)


async def alert(db: asyncpg.Pool, alert_id: int) -> AlertOut:
    row = await db.fetchrow(q.GET_ALERT, alert_id)
    if row is None:
        raise NotFound("no such alert")
    return _alert(row)


async def decide(db: asyncpg.Pool, staff_id: int, alert_id: int, target: AlertStatus, reason: str) -> AlertOut:
    """Acknowledge, confirm or dismiss an alert (support and admins act as the admin actor); dismissing
    releases the payouts it held. Audit-logged with the reason, in the same transaction."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(q.ALERT_FOR_UPDATE, alert_id)
        if row is None:
            raise NotFound("no such alert")
        current = AlertStatus(row["status"])
        if not TRANSITIONS.allows(current, target, Actor.ADMIN):
            raise Conflict(f"this alert is {current}; it cannot be {target}", current_status=current)
        held = await conn.fetchval(q.HELD_ORDERS, alert_id)
        await conn.execute(q.DECIDE_ALERT, alert_id, target, staff_id, reason)
        if target == AlertStatus.DISMISSED:
            await conn.execute(q.RELEASE_HOLDS, alert_id)
        await record_audit(
            conn, staff_id, f"risk_alert.{target}", "risk_alert", alert_id, {"status": current, "held_orders": held},
            {"status": target, "reason": reason, "held_orders": 0 if target == AlertStatus.DISMISSED else held},
        )  # fmt: skip
        return _alert(await conn.fetchrow(q.GET_ALERT, alert_id))


# Listing review and logins, asked by catalog and accounts


async def listing_review_reason(
    conn: asyncpg.Connection | asyncpg.Pool, mode: str, new_shop_days: int, vendor_id: int
) -> str | None:
    """Why a new product of this shop must wait for approval before buyers see it, or None (LISTING_REVIEW:
    off; new_or_flagged: shops younger than `new_shop_days` or named by a live alert; all)."""
    if mode == "all":
        return "every new listing is reviewed"
    if mode != "new_or_flagged":
        return None
    if await conn.fetchval(q.SHOP_IS_NEW, vendor_id, new_shop_days):
        return f"the shop is younger than {new_shop_days} days"
    if await conn.fetchval(q.SHOP_FLAGGED, vendor_id):
        return "the shop is under risk review"
    return None


async def record_login_failure(db: asyncpg.Pool | asyncpg.Connection, user_id: int | None, ip: str) -> None:
    """A wrong password (`user_id` None: no such account), for the failed-login rule; kept for the risk window."""
    await db.execute(q.INSERT_LOGIN_FAILURE, user_id, ip)
