"""The risk loop: every RISK_SCAN_MINUTES each app process tries a scan (the rules and the shops' trust
scores); an advisory lock lets one run while the others skip, and a failing scan is retried with back-off
(core/outage.py). Failed logins older than the window are pruned on the way."""

from __future__ import annotations

import asyncio

import asyncpg

from marketplace.core.db import create_pool
from marketplace.core.outage import run_forever
from marketplace.risk import service
from marketplace.risk.rules import Thresholds
from marketplace.risk.schemas import ScanOut
from marketplace.settings import Settings


def thresholds_of(settings: Settings) -> Thresholds:
    return Thresholds(window_days=settings.risk_window_days)


async def scan_once(db: asyncpg.Pool, settings: Settings, *, wait: bool) -> ScanOut:
    result = await service.scan(
        db, thresholds_of(settings), wait=wait, trust_window_days=settings.trust_window_days,
        late_hours=settings.ship_within_hours,
    )  # fmt: skip
    await service.prune_login_failures(db, settings.risk_window_days)
    return result


async def run_risk_worker(db: asyncpg.Pool, settings: Settings) -> None:
    """Scan every interval, the first one interval after start (0 minutes: never)."""
    if settings.risk_scan_minutes <= 0:
        return
    interval = settings.risk_scan_minutes * 60
    await asyncio.sleep(interval)
    await run_forever("risk scan", lambda: scan_once(db, settings, wait=False), interval)


async def scan_with_pool(settings: Settings) -> ScanOut:
    """One scan from a process without the app's pool (`marketplace risk scan`)."""
    pool = await create_pool(settings.database_url, 1, 2)
    try:
        return await scan_once(pool, settings, wait=True)
    finally:
        await pool.close()
