"""The shop trust score, 0-100, shown to buyers beside a shop. Over the trust window (TRUST_WINDOW_DAYS):

    rating   = (sum of ratings + 5 * 4.0) / (reviews + 5)            a Bayesian mean: 5 imagined 4-star reviews
    refunds  = (refunded orders + 0.5) / (orders + 10)           each rate pulled towards a prior by 10
    late     = (late shipments + 0.5) / (orders + 10)            imagined orders, so a new shop is neither
    disputes = (disputes + 0.1) / (orders + 10)                   perfect nor doomed by its first order

    score = 100 * (0.40 * (rating - 1) / 4
                 + 0.25 * (1 - min(1, refunds / 0.20))
                 + 0.20 * (1 - min(1, late / 0.30))
                 + 0.15 * (1 - min(1, disputes / 0.10)))

An order counts once paid (or confirmed for cash on delivery); refunded means any refund posted for it; late
means shipped more than SHIP_WITHIN_HOURS after payment, or not shipped that long after.
The worker recomputes every shop each scan into `shop_trust`, which is the cache the public pages read; a
shop not scored yet is scored on first read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from marketplace.risk import queries as q
from marketplace.risk.schemas import ShopTrust

PRIOR_REVIEWS, PRIOR_RATING = 5, 4.0
PRIOR_ORDERS = 10
PRIOR_REFUND, PRIOR_LATE, PRIOR_DISPUTE = 0.05, 0.05, 0.01
WEIGHTS = {"rating": 0.40, "refunds": 0.25, "late": 0.20, "disputes": 0.15}
WORST = {"refunds": 0.20, "late": 0.30, "disputes": 0.10}  # a rate at which its term is 0


def score(reviews: int, rating: float | None, orders: int, refunded: int, late: int, disputes: int) -> int:
    mean = ((rating or 0.0) * reviews + PRIOR_REVIEWS * PRIOR_RATING) / (reviews + PRIOR_REVIEWS)
    rates = {
        "refunds": (refunded + PRIOR_REFUND * PRIOR_ORDERS) / (orders + PRIOR_ORDERS),
        "late": (late + PRIOR_LATE * PRIOR_ORDERS) / (orders + PRIOR_ORDERS),
        "disputes": (disputes + PRIOR_DISPUTE * PRIOR_ORDERS) / (orders + PRIOR_ORDERS),
    }
    terms = {"rating": (mean - 1) / 4} | {name: 1 - min(1.0, rate / WORST[name]) for name, rate in rates.items()}
    return max(0, min(100, round(100 * sum(WEIGHTS[name] * term for name, term in terms.items()))))


async def recompute(
    conn: asyncpg.Connection | asyncpg.Pool, window_days: int, late_hours: int, vendor_ids: list[int] | None = None
) -> int:
    """Score every shop (or `vendor_ids`) and store the scores; returns how many."""
    since = datetime.now(UTC) - timedelta(days=window_days)
    rows = await conn.fetch(q.TRUST_COMPONENTS, since, late_hours, vendor_ids)
    if not rows:
        return 0
    columns: list[list[object]] = [[] for _ in range(8)]
    for r in rows:
        orders = r["orders"]
        values = (
            r["vendor_id"],
            score(r["reviews"], r["rating"], orders, r["refunded"], r["late"], r["disputes"]),
            r["rating"],
            r["reviews"],
            orders,
            r["refunded"] / orders if orders else 0.0,
            r["late"] / orders if orders else 0.0,
            r["disputes"] / orders if orders else 0.0,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await conn.execute(q.UPSERT_TRUST, *columns)
    return len(rows)


async def shop_trust(
    db: asyncpg.Pool | asyncpg.Connection, vendor_id: int, window_days: int = 180, late_hours: int = 48
) -> ShopTrust | None:
    """The shop's stored score (scored now if the worker has not reached it yet); None for no such shop."""
    row = await db.fetchrow(q.GET_TRUST, vendor_id)
    if row is None and await recompute(db, window_days, late_hours, [vendor_id]):
        row = await db.fetchrow(q.GET_TRUST, vendor_id)
    if row is None:
        return None
    return ShopTrust(**{k: v for k, v in dict(row).items() if k != "vendor_id"})
