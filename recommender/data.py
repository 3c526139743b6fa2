"""Interactions as a users x items matrix: views, carts and purchases weighted by kind and decayed with age.
`from_frame` takes any (user, item, timestamp[, rating | kind]) table, so public datasets load the same way
as the marketplace's own events (`load_frame`)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import numpy as np
import pandas as pd
from scipy import sparse

# How much each kind of interaction says about a buyer's taste.
KIND_WEIGHTS = {"view": 1.0, "cart": 4.0, "purchase": 10.0}


@dataclass
class Interactions:
    matrix: sparse.csr_matrix  # users x items, float32
    user_ids: np.ndarray  # row → user id
    item_ids: np.ndarray  # column → item (product) id

    def user_index(self) -> dict[int, int]:
        return {int(u): i for i, u in enumerate(self.user_ids)}

    def item_index(self) -> dict[int, int]:
        return {int(p): i for i, p in enumerate(self.item_ids)}


def from_frame(
    frame: pd.DataFrame,
    user: str = "user_id",
    item: str = "item_id",
    time: str | None = "timestamp",
    rating: str | None = None,
    kind: str | None = None,
    kind_weights: dict[str, float] | None = None,
    half_life_days: float | None = None,
    now: pd.Timestamp | None = None,
) -> Interactions:
    """Sum each (user, item)'s weights: `rating` if given, else the weight of its `kind`, else 1, halved every
    `half_life_days` of age (measured back from `now`, by default the newest timestamp)."""
    users, user_ids = pd.factorize(frame[user], sort=True)
    items, item_ids = pd.factorize(frame[item], sort=True)
    if rating is not None:
        weights = frame[rating].to_numpy(dtype=np.float64)
    elif kind is not None:
        weights = frame[kind].map(kind_weights or KIND_WEIGHTS).fillna(0.0).to_numpy(dtype=np.float64)
    else:
        weights = np.ones(len(frame))
    if half_life_days and time is not None:
        stamps = pd.to_datetime(frame[time], utc=True)
        age_days = ((now or stamps.max()) - stamps).dt.total_seconds().to_numpy() / 86_400
        weights = weights * np.power(0.5, age_days / half_life_days)
    matrix = sparse.csr_matrix(
        (weights.astype(np.float32), (users, items)), shape=(len(user_ids), len(item_ids)), dtype=np.float32
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return Interactions(matrix, np.asarray(user_ids), np.asarray(item_ids))


INTERACTIONS = """
SELECT user_id, product_id AS item_id, kind, occurred_at AS timestamp FROM interactions
WHERE user_id IS NOT NULL AND product_id IS NOT NULL AND kind IN ('view', 'cart', 'purchase')
"""


async def load_frame(conn: asyncpg.Connection | asyncpg.Pool) -> pd.DataFrame:
    """Signed-in buyers' views, carts and purchases, oldest first."""
    rows = await conn.fetch(INTERACTIONS + " ORDER BY occurred_at")
    return pd.DataFrame([tuple(r) for r in rows], columns=["user_id", "item_id", "kind", "timestamp"])
