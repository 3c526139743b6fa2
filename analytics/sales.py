"""Sales metrics for the platform (marketers and admins) or one vendor (its own orders, and views and carts
of its own products): GMV, orders, average order value, buyers and repeat rate per day or week; the
conversion funnel; top products and categories; and customers' monthly cohorts. SQL does the counting
(analytics/queries.py); definitions are in docs/analytics.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import asyncpg
import pandas as pd

from analytics import queries as q
from analytics.cohorts import CHURN_DAYS, active, churn_rate, churn_rate_at
from analytics.schemas import Cohort, Cohorts, FunnelPeriod, Ranked, SalesPeriod, TopSellers
from analytics.segments import load_purchases
from marketplace.core.errors import Unprocessable

Grain = Literal["day", "week"]
DEFAULT_DAYS = 30
LONGEST_DAYS = 731


@dataclass(frozen=True)
class Period:
    start: date  # first day, included
    end: date  # last day, included
    grain: Grain = "day"

    @classmethod
    def of(cls, start: date | None, end: date | None, grain: Grain = "day") -> Period:
        """The days asked for (the last 30 by default); weeks are widened to whole weeks, Monday first.
        Well-formed dates that make no period are 422: the schema cannot say how they relate."""
        try:
            end = end or datetime.now(UTC).date()
            start = start or end - timedelta(days=DEFAULT_DAYS - 1)
            if start > end:
                raise Unprocessable("`from` must not be after `to`")
            if (end - start).days >= LONGEST_DAYS:
                raise Unprocessable(f"a period may span at most {LONGEST_DAYS} days")
            if grain == "week":
                start, end = start - timedelta(days=start.weekday()), end + timedelta(days=6 - end.weekday())
            period = cls(start, end, grain)
            period.bounds  # noqa: B018 (the first day of 0001 or the last of 9999 leave no room for the period)
        except OverflowError:
            raise Unprocessable("the period runs past the dates this server can count (years 1 to 9999)") from None
        return period

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return datetime.combine(self.start, time(), UTC), datetime.combine(self.end + timedelta(days=1), time(), UTC)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


async def sales(db: asyncpg.Pool, period: Period, vendor_id: int | None) -> list[SalesPeriod]:
    rows = await db.fetch(q.SALES, *period.bounds, period.grain, vendor_id)
    return [
        SalesPeriod(
            r["period"],
            r["gmv"],
            r["orders"],
            r["gmv"] // r["orders"] if r["orders"] else 0,
            r["buyers"],
            r["returning_buyers"],
            _share(r["returning_buyers"], r["buyers"]),
        )
        for r in rows
    ]


async def funnel(db: asyncpg.Pool, period: Period, vendor_id: int | None) -> list[FunnelPeriod]:
    async with db.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(q.ANALYTICS_WORK_MEM)
        rows = await conn.fetch(q.FUNNEL, *period.bounds, period.grain, vendor_id)
    return [
        FunnelPeriod(
            r["period"],
            r["viewed"],
            r["carted"],
            r["ordered"],
            r["paid"],
            _share(r["carted"], r["viewed"]),
            _share(r["ordered"], r["carted"]),
            _share(r["paid"], r["ordered"]),
            _share(r["paid"], r["viewed"]),
        )
        for r in rows
    ]


async def top(db: asyncpg.Pool, period: Period, vendor_id: int | None, limit: int) -> TopSellers:
    start, end = period.bounds
    products = await db.fetch(q.TOP_PRODUCTS, start, end, vendor_id, limit)
    categories = await db.fetch(q.TOP_CATEGORIES, start, end, vendor_id, limit)
    return TopSellers(period.start, period.end, [Ranked(**dict(r)) for r in products],
                      [Ranked(**dict(r)) for r in categories])  # fmt: skip


async def cohorts(db: asyncpg.Pool, as_of: datetime | None = None) -> tuple[Cohorts, pd.DataFrame]:
    """Every customer's monthly acquisition cohort and its retention, with the churn rate as of `as_of` (now by
    default; the platform's: customers are the platform's, not a vendor's)."""
    now = pd.Timestamp(as_of or datetime.now(UTC))
    async with db.acquire() as conn:
        purchases = await load_purchases(conn)
    if purchases.empty:
        return Cohorts([], CHURN_DAYS, 0.0, 0.0, now.to_pydatetime()), pd.DataFrame()
    counts = active(purchases)
    matrix = counts.div(counts[0], axis=0)
    listed = [
        Cohort(str(month), int(counts.loc[month, 0]), [round(float(v), 4) for v in row.dropna()])
        for month, row in matrix.iterrows()
    ]
    lapsed_30_days = churn_rate(purchases, now - pd.Timedelta(days=30), now)
    return Cohorts(listed, CHURN_DAYS, lapsed_30_days, churn_rate_at(purchases, now), now.to_pydatetime()), matrix
