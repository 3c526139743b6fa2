"""A demo marketplace's interactions at a size the seed's generator would take an hour to build: the same model
of behaviour (marketplace/seed/generator.py), vectorised over products, buyers and sessions.

Vendors carry one or two top categories; products sit in a leaf of them, with a power-law popularity within
the leaf nudged by quality. Buyers favour three leaves with Dirichlet weights and browse in sessions: a leaf
from their taste (one time in ten any leaf), a geometric number of views drawn by popularity, carts likelier
for well-rated products, half the carts bought. Titles, prices and stock are left out: training needs none.

    python -m benchmarks.recommender --size huge   # 1M products, ~10M interactions
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from marketplace.seed.generator import HOUR_WEIGHTS, WEEK, WEEKDAY_WEIGHTS, build_categories


@dataclass(frozen=True)
class Scale:
    vendors: int
    products: int
    buyers: int
    weeks: int
    sessions_per_week: float


SCALES = {"huge": Scale(vendors=4_000, products=1_000_000, buyers=282_000, weeks=16, sessions_per_week=0.75)}


def synthetic_frame(scale: Scale, seed: int = 42, start: float = 1.7e9) -> tuple[pd.DataFrame, np.ndarray]:
    """Views, carts and purchases as `data.from_frame` takes them (kind categorical), and each product's leaf."""
    rng = np.random.default_rng(seed)
    cats = build_categories()
    n_leaves, n_tops = len(cats.leaves), len(cats.tops)

    vendor_tops = rng.integers(0, n_tops, size=(scale.vendors, 2))
    share = rng.pareto(1.5, scale.vendors) + 1
    vendor = rng.choice(scale.vendors, size=scale.products, p=share / share.sum())
    top = vendor_tops[vendor, rng.integers(0, 2, scale.products)]
    leaf = np.empty(scale.products, dtype=np.int64)
    for t in range(n_tops):
        mask = top == t
        leaf[mask] = rng.choice(np.flatnonzero(cats.leaf_top == t), size=mask.sum())
    quality = rng.normal(0, 1, scale.products)
    rating = np.clip(3.9 + 0.45 * quality + rng.normal(0, 0.25, scale.products), 1.0, 5.0)
    # Rank within the leaf in a random order: popularity rank^-1.1, times exp(0.3 quality).
    order = np.lexsort((rng.random(scale.products), leaf))
    starts = np.searchsorted(leaf[order], np.arange(n_leaves))
    rank = np.empty(scale.products)
    rank[order] = np.arange(scale.products) - starts[leaf[order]] + 1
    popularity = rank**-1.1 * np.exp(0.3 * quality)

    fav = rng.integers(0, n_tops, scale.buyers)
    tastes = np.empty((scale.buyers, 3), dtype=np.int64)
    for t in range(n_tops):
        mask = fav == t
        of_top = np.flatnonzero(cats.leaf_top == t)
        tastes[mask, 0], tastes[mask, 1] = rng.choice(of_top, mask.sum()), rng.choice(of_top, mask.sum())
    tastes[:, 2] = rng.integers(0, n_leaves, scale.buyers)
    weights = rng.dirichlet([3.0, 2.0, 1.0], scale.buyers)
    activity = rng.lognormal(0, 0.8, scale.buyers) * scale.sessions_per_week / np.exp(0.32)
    joined = np.where(rng.random(scale.buyers) < 0.4, 0, rng.integers(0, scale.weeks, scale.buyers))
    churn = np.where(rng.random(scale.buyers) < 0.3, joined + 1 + rng.geometric(0.25, scale.buyers), scale.weeks)
    active = np.maximum(np.minimum(churn, scale.weeks) - joined, 0)

    sessions = rng.poisson(activity * active)
    buyer = np.repeat(np.arange(scale.buyers), sessions)
    s = len(buyer)
    week = joined[buyer] + np.floor(rng.random(s) * active[buyer])
    day = rng.choice(7, s, p=WEEKDAY_WEIGHTS / WEEKDAY_WEIGHTS.sum())
    hour = rng.choice(24, s, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    began = start + week * WEEK + day * 86_400 + hour * 3600 + rng.uniform(0, 3600, s)
    pick = np.minimum((rng.random(s)[:, None] > np.cumsum(weights[buyer], axis=1)).sum(axis=1), 2)
    session_leaf = tastes[buyer, pick]
    wander = rng.random(s) < 0.1
    session_leaf[wander] = rng.integers(0, n_leaves, wander.sum())

    views = np.minimum(rng.geometric(0.22, s), 25)
    view_session = np.repeat(np.arange(s), views)
    view_leaf = session_leaf[view_session]
    product = np.empty(len(view_session), dtype=np.int64)
    by_leaf = np.argsort(view_leaf, kind="stable")
    bounds = np.searchsorted(view_leaf[by_leaf], np.arange(n_leaves + 1))
    for lf in range(n_leaves):
        who = by_leaf[bounds[lf] : bounds[lf + 1]]
        candidates = order[starts[lf] : (starts[lf + 1] if lf + 1 < n_leaves else scale.products)]
        if not len(who):
            continue
        if not len(candidates):  # a leaf no vendor stocks: anything instead
            product[who] = rng.integers(0, scale.products, len(who))
            continue
        p = popularity[candidates]
        product[who] = candidates[np.minimum(np.searchsorted(np.cumsum(p / p.sum()), rng.random(len(who))),
                                             len(candidates) - 1)]  # fmt: skip
    at = began[view_session] + rng.uniform(0, 900, len(view_session))  # within the session

    conversion = np.clip(0.07 * np.exp(0.5 * (rating[product] - 3.9)), 0.01, 0.3)
    carted = rng.random(len(product)) < conversion
    bought = carted & (rng.random(len(product)) < 0.5)
    kinds = np.concatenate([np.zeros(len(product)), np.ones(carted.sum()), np.full(bought.sum(), 2)]).astype(np.int8)
    frame = pd.DataFrame(
        {
            "user_id": np.concatenate([buyer[view_session], buyer[view_session[carted]], buyer[view_session[bought]]]),
            "item_id": np.concatenate([product, product[carted], product[bought]]),
            "kind": pd.Categorical.from_codes(kinds, ["view", "cart", "purchase"]),
            "timestamp": pd.to_datetime(
                np.concatenate([at, at[carted] + rng.uniform(5, 60, carted.sum()),
                                at[bought] + rng.uniform(120, 900, bought.sum())]), unit="s", utc=True),
        }
    )  # fmt: skip
    return frame, leaf
