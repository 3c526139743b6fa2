"""Offline evaluation: hold out some of each user's interactions, fit on the rest, rank, and score.

- `split_random`: a random `test_share` of each user's items (users with fewer than 2 keep all to train).
- `split_last`: leave-last-out, the temporal split: each user's most recent item is held out.
Items held out are what the user did next; a model is only credited for items the user had not seen."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone

from recommender.data import Interactions
from recommender.metrics import all_metrics
from recommender.models import Recommender


def split_random(
    matrix: sparse.csr_matrix, test_share: float = 0.2, seed: int = 0
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    rng = np.random.default_rng(seed)
    coo = sparse.coo_matrix(matrix)
    order = np.lexsort((rng.random(coo.nnz), coo.row))
    _, counts = np.unique(coo.row[order], return_counts=True)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(coo.nnz) - starts
    held = np.repeat(np.where(counts >= 2, np.maximum(1, np.floor(counts * test_share)), 0), counts)
    test_mask = np.zeros(coo.nnz, dtype=bool)
    test_mask[order] = position < held
    return _part(coo, ~test_mask), _part(coo, test_mask)


def split_last(frame: pd.DataFrame, interactions: Interactions, user: str = "user_id", item: str = "item_id",
               time_col: str = "timestamp") -> tuple[sparse.csr_matrix, sparse.csr_matrix]:  # fmt: skip
    """Hold out each user's last item (by time) when the user has at least two distinct items."""
    users, items = interactions.user_index(), interactions.item_index()
    last = frame.sort_values(time_col).groupby(user).tail(1)
    coo = sparse.coo_matrix(interactions.matrix)
    distinct = np.diff(interactions.matrix.indptr)
    held = {(users[u], items[i]) for u, i in zip(last[user], last[item], strict=True) if distinct[users[u]] >= 2}
    test_mask = np.array([(r, c) in held for r, c in zip(coo.row, coo.col, strict=True)], dtype=bool)
    return _part(coo, ~test_mask), _part(coo, test_mask)


def _part(coo: sparse.coo_matrix, mask: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=coo.shape, dtype=np.float32)


def evaluate(
    models: dict[str, Recommender],
    train: sparse.csr_matrix,
    test: sparse.csr_matrix,
    k: int = 10,
    max_users: int | None = None,
    seed: int = 0,
    exclude: sparse.spmatrix | None = None,
) -> pd.DataFrame:
    """Fit a clone of each model on `train` (the models passed stay as they were, as in scikit-learn's
    `cross_validate`), rank for the users with held-out items (a random `max_users` of them, if given:
    ranking every item for every user is most of the cost), and score against `test`. `exclude`: what may
    not be recommended (users x items), by default each user's training items."""
    users = np.flatnonzero(np.diff(sparse.csr_matrix(test).indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    rows = []
    for name, prototype in models.items():
        model = clone(prototype)
        started = time.perf_counter()
        model.fit(train)
        fitted = time.perf_counter() - started
        recommended = model.recommend(users, k, exclude=None if exclude is None else sparse.csr_matrix(exclude)[users])
        rows.append({"model": name, **all_metrics(recommended, test[users], train.shape[1]), "fit_seconds": fitted})
    return pd.DataFrame(rows).set_index("model")
