"""Interactions as a users x items matrix: views, carts and purchases weighted by kind and decayed with age.
`from_frame` takes any (user, item, timestamp[, rating | kind]) table, so public datasets load the same way
as the marketplace's own events (`load_frame`).

Event weights are normalised before any model sees them: a (buyer, product) pair's kind weights, decayed and
summed (its *strength*), become log(1 + min(strength, WEIGHT_CAP)). The cap is one whole funnel (a view, a
cart addition and a purchase: 15), so thirty views of one product weigh no more than buying it, and no pair
weighs more than log 16 = 2.77 however often it was looked at: regularisation (EASE's λ, iALS's) means the same
on every data set. Training (`from_frame`) and the live worker (`with_session`, a browsing session's fresh
events added to a trained history) share these functions, so a view counts the same in both."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import numpy as np
import pandas as pd
from scipy import sparse

# How much each kind of interaction says about a buyer's taste.
KIND_WEIGHTS = {"view": 1.0, "cart": 4.0, "purchase": 10.0}
WEIGHT_CAP = sum(KIND_WEIGHTS.values())  # a pair's strength counts up to one whole funnel


def normalise(strength: np.ndarray) -> np.ndarray:
    """A pair's summed, decayed kind weights as a model weight: log(1 + min(strength, WEIGHT_CAP))."""
    return np.log1p(np.minimum(strength, WEIGHT_CAP)).astype(np.float32)


def strength(weight: np.ndarray) -> np.ndarray:
    """`normalise`'s inverse: exact below the cap, and at the cap adding more changes nothing anyway."""
    return np.expm1(np.asarray(weight, dtype=np.float64))


def with_session(history: sparse.spmatrix, session: sparse.spmatrix) -> sparse.csr_matrix:
    """Normalised `history` rows plus a session's raw strengths (`KIND_WEIGHTS` per fresh event): the weights
    training would give these pairs if it saw the session too."""
    history = sparse.csr_matrix(history, dtype=np.float32)
    raw = sparse.csr_matrix((strength(history.data), history.indices, history.indptr), shape=history.shape)
    total = sparse.csr_matrix(raw + sparse.csr_matrix(session, dtype=np.float64))
    total.data = normalise(total.data)
    return sparse.csr_matrix(total, dtype=np.float32)


@dataclass
class Interactions:
    matrix: sparse.csr_matrix  # users x items, float32
    user_ids: np.ndarray  # row → user id
    item_ids: np.ndarray  # column → item (product) id
    bought: sparse.csr_matrix | None = None  # users x items, 1 where the user bought the item (kind data only)

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
    `half_life_days` of age (measured back from `now`, by default the newest timestamp). Weighted by kind,
    the sums are normalised (`normalise`) and what each user bought is kept in `bought`."""
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
    bought = None
    if rating is None and kind is not None:
        matrix.data = normalise(matrix.data)
        purchase = (frame[kind] == "purchase").to_numpy()
        bought = sparse.csr_matrix(
            (np.ones(purchase.sum(), np.float32), (users[purchase], items[purchase])), shape=matrix.shape
        )
        bought.sum_duplicates()
        bought.data[:] = 1.0
    return Interactions(matrix, np.asarray(user_ids), np.asarray(item_ids), bought)


INTERACTIONS = """
SELECT user_id, product_id AS item_id, kind, occurred_at AS timestamp FROM interactions
WHERE user_id IS NOT NULL AND product_id IS NOT NULL AND kind IN ('view', 'cart', 'purchase')
"""


async def load_frame(conn: asyncpg.Connection | asyncpg.Pool) -> pd.DataFrame:
    """Signed-in buyers' views, carts and purchases, oldest first."""
    rows = await conn.fetch(INTERACTIONS + " ORDER BY occurred_at")
    return pd.DataFrame([tuple(r) for r in rows], columns=["user_id", "item_id", "kind", "timestamp"])
