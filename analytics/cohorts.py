"""Monthly acquisition cohorts: customers grouped by the month of their first order, and for each later month
the share of the cohort that ordered in it (month 0 is always 1.0).

Churn: a customer has churned when they have not ordered for `CHURN_DAYS` (90); the churn rate of a period
is the share of customers active at its start (an order in the `CHURN_DAYS` before it) who churned by its
end, that is, who did not order during it."""

from __future__ import annotations

import numpy as np
import pandas as pd

CHURN_DAYS = 90


def active(orders: pd.DataFrame, customer: str = "buyer_id", at: str = "created_at") -> pd.DataFrame:
    """Rows: cohort month; columns: months since the first order; values: customers of the cohort ordering
    (column 0 is the cohort's size; NaN for months the data does not reach yet)."""
    months = orders[at].dt.tz_localize(None).dt.to_period("M")
    frame = pd.DataFrame({"customer": orders[customer].to_numpy(), "month": months.to_numpy()})
    first = frame.groupby("customer")["month"].transform("min")
    frame["cohort"] = first
    frame["age"] = (frame["month"] - first).apply(lambda offset: offset.n)
    counts = frame.drop_duplicates(["customer", "age"]).groupby(["cohort", "age"]).size().unstack(fill_value=0)
    # Months after the last one in the data have not happened yet for that cohort: unknown, not zero.
    observed = np.array([(frame["month"].max() - cohort).n for cohort in counts.index])
    return counts.where(counts.columns.to_numpy()[None, :] <= observed[:, None])


def retention(orders: pd.DataFrame, customer: str = "buyer_id", at: str = "created_at") -> pd.DataFrame:
    """Rows: cohort month; columns: months since the first order; values: share of the cohort ordering
    (NaN for months the data does not reach yet)."""
    counts = active(orders, customer, at)
    return counts.div(counts[0], axis=0)


def churn_rate(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, customer: str = "buyer_id",
               at: str = "created_at", churn_days: int = CHURN_DAYS) -> float:  # fmt: skip
    """Of the customers active at `start` (an order in the `churn_days` before it), the share with no order
    between `start` and `end`."""
    before = orders[(orders[at] >= start - pd.Timedelta(days=churn_days)) & (orders[at] < start)][customer]
    during = set(orders[(orders[at] >= start) & (orders[at] < end)][customer])
    active = set(before)
    return len(active - during) / len(active) if active else 0.0
