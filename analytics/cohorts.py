"""Monthly acquisition cohorts: customers grouped by the month of their first order, and for each later month
the share of the cohort that ordered in it (month 0 is always 1.0). Every month of age from 0 to the oldest
cohort's is there, 0 where nobody of a cohort ordered; months the data has not reached yet are NaN.

Churn: a customer has churned at a date when they have not ordered in the `CHURN_DAYS` (90) before it. The
churn rate as of a date D is the share of customers active 90 days before D (an order in the 90 days before
that) who have churned by D, i.e. ordered nothing in the 90 days before D (`churn_rate_at`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

CHURN_DAYS = 90


def active(orders: pd.DataFrame, customer: str = "buyer_id", at: str = "created_at") -> pd.DataFrame:
    """Rows: cohort month; columns: months since the first order, 0 to the oldest cohort's age; values:
    customers of the cohort ordering (column 0 is the cohort's size; NaN for months the data does not reach
    yet)."""
    months = orders[at].dt.tz_localize(None).dt.to_period("M")
    frame = pd.DataFrame({"customer": orders[customer].to_numpy(), "month": months.to_numpy()})
    first = frame.groupby("customer")["month"].transform("min")
    frame["cohort"] = first
    frame["age"] = (frame["month"] - first).apply(lambda offset: offset.n)
    counts = frame.drop_duplicates(["customer", "age"]).groupby(["cohort", "age"]).size().unstack(fill_value=0)
    observed = np.array([(frame["month"].max() - cohort).n for cohort in counts.index])
    # A month in which no cohort ordered has no column after unstack: put it back as 0, or later months shift.
    counts = counts.reindex(columns=range(int(observed.max(initial=-1)) + 1), fill_value=0)
    # Months after the last one in the data have not happened yet for that cohort: unknown, not zero.
    return counts.where(counts.columns.to_numpy()[None, :] <= observed[:, None])


def retention(orders: pd.DataFrame, customer: str = "buyer_id", at: str = "created_at") -> pd.DataFrame:
    """Rows: cohort month; columns: months since the first order; values: share of the cohort ordering
    (NaN for months the data does not reach yet)."""
    counts = active(orders, customer, at)
    return counts.div(counts[0], axis=0)


def churn_rate(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, customer: str = "buyer_id",
               at: str = "created_at", churn_days: int = CHURN_DAYS) -> float:  # fmt: skip
    """Of the customers active at `start` (an order in the `churn_days` before it), the share with no order
    between `start` and `end`. Only a period of `churn_days` makes that share churn (`churn_rate_at`): over a
    shorter one it also counts customers who merely paused."""
    before = orders[(orders[at] >= start - pd.Timedelta(days=churn_days)) & (orders[at] < start)][customer]
    during = set(orders[(orders[at] >= start) & (orders[at] < end)][customer])
    active = set(before)
    return len(active - during) / len(active) if active else 0.0


def churn_rate_at(orders: pd.DataFrame, as_of: pd.Timestamp, customer: str = "buyer_id", at: str = "created_at",
                  churn_days: int = CHURN_DAYS) -> float:  # fmt: skip
    """The churn rate as of `as_of`: of the customers active `churn_days` before it, the share who have gone
    `churn_days` without an order by `as_of`."""
    return churn_rate(orders, as_of - pd.Timedelta(days=churn_days), as_of, customer, at, churn_days)
