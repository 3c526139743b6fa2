"""Microsoft Recommenders' published MovieLens 100K protocol, so our figures sit beside theirs.

Their benchmark (README "Algorithm comparison", examples/06_benchmarks/movielens.ipynb) treats every rating as
an implicit positive, splits with `python_stratified_split(ratio=0.75, filter_by="item", seed=42)`, trains on
the training users x training items, ranks the 10 unseen items with the highest scores and scores them with
their precision@k, recall@k, nDCG@k and MAP. `stratified_split` reproduces that split row for row (their seed
42 on the dataset in file order gives the very same train and test rows), and `published_metrics` their
definitions:
    precision@k = hits / k, recall@k = hits / |relevant|, nDCG@k = DCG / ideal DCG over min(k, |relevant|);
    MAP = mean over users of (sum over hits of precision at the hit's rank) / |relevant|: the number of
    relevant items, not min(k, |relevant|). That is what their `map_at_k` computed when the table was made
    (2021); since 1.2 (2023) the same is called `map`, and `map_at_k` divides by min(k, |relevant|).
The users scored are those with held-out items and something to train on (their `merge_ranking_true_pred`
keeps the users both sides know); a held-out item never seen in training stays relevant but cannot be hit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone
from tqdm import tqdm

from recommender.metrics import map_at_k, ndcg_at_k, precision_at_k, recall_at_k
from recommender.models import Recommender

# Their README's ranking columns for ML-100K (per-item split, seed 42, k = 10), as published.
PUBLISHED_ML_100K = pd.DataFrame(
    {
        "BiVAE": [0.411771, 0.219145, 0.475077, 0.146126],
        "BPR": [0.388229, 0.212522, 0.441997, 0.132478],
        "LightGCN": [0.379626, 0.144336, 0.419846, 0.088526],
        "NCF": [0.347296, 0.180775, 0.396118, 0.107720],
        "SAR": [0.330753, 0.176385, 0.382461, 0.110591],
    },
    index=["precision@10", "recall@10", "ndcg@10", "map"],
).T
SEED = 42  # the published run's seed; `seeds(n)` counts on from it
METRICS = ["precision@10", "recall@10", "ndcg@10", "map"]

# A model to score: a prototype estimator (a clone is fitted) or a function fitting one on a training matrix,
# which is how a whole model choice (training.choose_matrix, validation carved from that matrix) is scored.
Candidate = Recommender | Callable[[sparse.csr_matrix], Recommender]


def seeds(n: int = 10) -> list[int]:
    return list(range(SEED, SEED + n))


def stratified_mask(groups: np.ndarray, ratio: float = 0.75, seed: int = SEED) -> np.ndarray:
    """True for the rows that train: in each group, rows in a random order, the first `ratio` of them.

    As `python_stratified_split`: one uniform number per row from `np.random.seed(seed)`, rows sorted by
    (group, number), and a row trains when its 1-based rank over the group's size is <= ratio. So a group's
    training share is floor(ratio * size); a group of one row goes to test."""
    groups = np.asarray(groups)
    random = np.random.RandomState(seed).rand(len(groups))
    order = np.lexsort((random, groups))
    _, counts = np.unique(groups[order], return_counts=True)
    rank = np.arange(1, len(groups) + 1) - np.repeat(np.cumsum(counts) - counts, counts)
    mask = np.empty(len(groups), dtype=bool)
    mask[order] = rank / np.repeat(counts, counts) <= ratio
    return mask


def stratified_split(frame: pd.DataFrame, ratio: float = 0.75, filter_by: str = "user", seed: int = SEED,
                     user: str = "user_id", item: str = "item_id") -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """`python_stratified_split(frame, ratio, filter_by=...)`: `ratio` of each user's (or item's) rows train."""
    if filter_by not in ("user", "item"):
        raise ValueError("filter_by should be either 'user' or 'item'")
    train = stratified_mask(frame[user if filter_by == "user" else item].to_numpy(), ratio, seed)
    return frame[train], frame[~train]


def split_matrix(matrix: sparse.spmatrix, ratio: float = 0.75, filter_by: str = "user",
                 seed: int = SEED) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:  # fmt: skip
    """The same split of a users x items matrix's non-zeros (weights kept), both parts in the full shape."""
    coo = sparse.coo_matrix(matrix)
    train = stratified_mask(coo.row if filter_by == "user" else coo.col, ratio, seed)

    def part(mask: np.ndarray) -> sparse.csr_matrix:
        rows, cols = coo.row[mask], coo.col[mask]
        return sparse.csr_matrix((coo.data[mask], (rows, cols)), shape=coo.shape, dtype=np.float32)

    return part(train), part(~train)


def published_metrics(recommended: np.ndarray, relevant: sparse.csr_matrix) -> dict[str, float]:
    k = recommended.shape[1]
    return {
        f"precision@{k}": precision_at_k(recommended, relevant),
        f"recall@{k}": recall_at_k(recommended, relevant),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant),
        "map": map_at_k(recommended, relevant, denominator="relevant"),
    }


def fit(candidate: Candidate, train: sparse.csr_matrix) -> Recommender:
    return candidate(train) if callable(candidate) else clone(candidate).fit(train)


def score_split(frame: pd.DataFrame, candidates: dict[str, Candidate], filter_by: str, seed: int,
                k: int = 10) -> list[dict]:  # fmt: skip
    """One split: every candidate fitted on the training part (weight 1 per rated film) and scored on the rest."""
    train, test = stratified_split(frame, 0.75, filter_by, seed)
    # The model knows only what training shows: its users and items, as their protocol builds it.
    users, user_ids = pd.factorize(train["user_id"], sort=True)
    items, item_ids = pd.factorize(train["item_id"], sort=True)
    matrix = sparse.csr_matrix((np.ones(len(train), np.float32), (users, items)), (len(user_ids), len(item_ids)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    # Relevance in the whole catalogue's columns, so items only in test still count in |relevant|.
    test = test[test["user_id"].isin(user_ids)]
    catalogue = np.union1d(item_ids, test["item_id"].unique())
    rows = user_ids.get_indexer(test["user_id"])
    relevant = sparse.csr_matrix(
        (np.ones(len(test)), (rows, np.searchsorted(catalogue, test["item_id"]))), (len(user_ids), len(catalogue))
    )
    scored = np.flatnonzero(np.diff(relevant.indptr) > 0)
    to_catalogue = np.append(np.searchsorted(catalogue, item_ids), -1)  # index -1 (padding) stays -1
    results = []
    for name, candidate in candidates.items():
        model = fit(candidate, matrix)
        ranked = to_catalogue[model.recommend(scored, k)]
        results.append({"model": name, "split": f"per {filter_by}", "seed": seed,
                        **published_metrics(ranked, relevant[scored])})  # fmt: skip
    return results


def run(frame: pd.DataFrame, candidates: dict[str, Candidate], seed_list: Iterable[int] = (SEED,),
        splits: Iterable[str] = ("user", "item"), k: int = 10, progress: bool = False) -> pd.DataFrame:  # fmt: skip
    """Every candidate on every (split, seed): one row each, the metrics as columns."""
    jobs = [(filter_by, seed) for filter_by in splits for seed in seed_list]
    rows = []
    for filter_by, seed in tqdm(jobs, desc="splits", disable=not progress):
        rows += score_split(frame, candidates, filter_by, seed, k)
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Mean ± sd over seeds, per model and split (sd 0 for a single seed)."""
    metrics = [c for c in results.columns if c not in ("model", "split", "seed")]
    grouped = results.groupby(["split", "model"], sort=False)[metrics]
    mean, sd = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    return mean.map(lambda v: f"{v:.{digits}f}") + " ± " + sd.map(lambda v: f"{v:.{digits}f}")


def ratings_as_implicit(frame: pd.DataFrame) -> pd.DataFrame:
    """Every rating, whatever its value, as one positive (the published protocol's implicit feedback)."""
    return frame[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"])
