"""RFM: each customer's recency, frequency and monetary value scored 1-5 by quintile among all customers
(5 = most recent, most orders, most spent; equal values, equal scores), and the ten standard named segments.

Segments are read off R and FM = round((F + M) / 2), first rule that matches (docs/analytics.md has the table):
    Champions            R 4-5, FM 4-5        Can't Lose Them      R 1,   FM 4-5
    At Risk              R 1-2, FM 3-5        Loyal                R 3-5, FM 3-5
    New                  R 5,   FM 1          Promising            R 4,   FM 1
    Potential Loyalist   R 4-5, FM 2          Need Attention       R 3,   FM 2
    About to Sleep       R 3, FM 1 or R 2, FM 1-2                  Lost                 R 1,   FM 1-2
Every (R, FM) pair falls in exactly one segment."""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = (
    "Champions", "Loyal", "Potential Loyalist", "New", "Promising",
    "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Lost",
)  # fmt: skip


def segment(r: int, fm: int) -> str:
    if r >= 4 and fm >= 4:
        return "Champions"
    if r == 1 and fm >= 4:
        return "Can't Lose Them"
    if r <= 2 and fm >= 3:
        return "At Risk"
    if fm >= 3:
        return "Loyal"
    if r == 5 and fm == 1:
        return "New"
    if r == 4 and fm == 1:
        return "Promising"
    if r >= 4:
        return "Potential Loyalist"
    if r == 3 and fm == 2:
        return "Need Attention"
    return "About to Sleep" if r >= 2 else "Lost"


# One lookup per (R, FM) instead of a Python call per customer.
_TABLE = np.array([[""] + [segment(r, fm) for fm in range(1, 6)] for r in range(0, 6)], dtype=object)


def quintile(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1-5 by quintile of rank. Equal values share the lowest rank among them, so equal customers get
    one score (the one the first of them would get): quintiles then hold uneven numbers, and a value shared
    by many (one purchase, say) can leave scores above it unused."""
    ranks = values.rank(method="min", ascending=higher_is_better)
    return pd.Series(np.ceil(ranks / len(values) * 5).clip(1, 5).astype(int), index=values.index)


def rfm(orders: pd.DataFrame, now: pd.Timestamp, customer: str = "buyer_id", at: str = "created_at",
        amount: str = "total") -> pd.DataFrame:  # fmt: skip
    """Per customer: recency_days, frequency (orders), monetary (sum), their R, F, M scores, FM and segment."""
    grouped = orders.groupby(customer).agg(last=(at, "max"), frequency=(at, "size"), monetary=(amount, "sum"))
    table = pd.DataFrame(
        {
            "recency_days": (now - grouped["last"]).dt.total_seconds() / 86_400,
            "frequency": grouped["frequency"],
            "monetary": grouped["monetary"],
        }
    )
    table["R"] = quintile(table["recency_days"], higher_is_better=False)
    table["F"] = quintile(table["frequency"])
    table["M"] = quintile(table["monetary"])
    table["FM"] = np.floor((table["F"] + table["M"]) / 2 + 0.5).astype(int)
    table["segment"] = _TABLE[table["R"].to_numpy(), table["FM"].to_numpy()]
    return table
