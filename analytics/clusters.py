"""Behavioural clusters: k-means on log-scaled, standardised features (recency, frequency, monetary value,
average order value), k chosen by silhouette, and each cluster described in words from its centre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

# k-means' OpenMP threads and BLAS get one thread: on a box shared with web workers, two threads per core
# fighting the other processes made clustering four times slower than one thread alone (issue #19).
THREADS = 1
FEATURES = ("recency_days", "frequency", "monetary", "average_order")
WORDS = {
    "recency_days": ("recent", "lapsed"),
    "frequency": ("frequent", "rare"),
    "monetary": ("big spenders", "small spenders"),
    "average_order": ("large baskets", "small baskets"),
}


@dataclass
class Clusters:
    k: int
    silhouettes: dict[int, float]
    labels: np.ndarray
    centres: pd.DataFrame  # per cluster, the standardised centre (0 = the average customer)
    descriptions: dict[int, str]


def features(table: pd.DataFrame) -> pd.DataFrame:
    """From an RFM table: the four features, log-scaled (they are heavily skewed)."""
    raw = table.assign(average_order=table["monetary"] / table["frequency"])[list(FEATURES)]
    return np.log1p(raw.clip(lower=0))


def describe(centre: pd.Series) -> str:
    """Words for what stands out in a standardised centre (half a standard deviation or more)."""
    said = [WORDS[f][0 if (v < 0 if f == "recency_days" else v > 0) else 1] for f, v in centre.items() if abs(v) >= 0.5]
    return ", ".join(said) if said else "average on every count"


def silhouettes(X: np.ndarray, labelings: dict[int, np.ndarray], chunk: int = 1_000) -> dict[int, float]:
    """The mean silhouette of each labelling of the same points, as scikit-learn's `silhouette_score` gives
    it, with the distances computed once for all of them and summed per cluster by a matrix product:
    scikit-learn recomputes the distances for each labelling and sums them row by row in Python."""
    n = len(X)
    onehots = {k: np.eye(labels.max() + 1)[labels] for k, labels in labelings.items()}
    sums = {k: np.empty((n, onehot.shape[1])) for k, onehot in onehots.items()}
    for start in range(0, n, chunk):
        distances = euclidean_distances(X[start : start + chunk], X)
        distances[np.arange(len(distances)), np.arange(start, start + len(distances))] = 0.0  # from itself
        for k, onehot in onehots.items():
            sums[k][start : start + chunk] = distances @ onehot
    scores = {}
    for k, labels in labelings.items():
        sizes = onehots[k].sum(axis=0)
        own = sizes[labels]
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(sizes > 0, sums[k] / sizes, np.inf)  # a cluster the sample missed is no neighbour
            means[np.arange(n), labels] = np.inf
            a = sums[k][np.arange(n), labels] / (own - 1)
            b = means.min(axis=1)
            score = np.nan_to_num((b - a) / np.maximum(a, b))
        scores[k] = float(np.where(own > 1, score, 0.0).mean())  # alone in its cluster: 0, by convention
    return scores


def _distinct(X: np.ndarray, chosen: np.ndarray, enough: int) -> int:
    """The distinct rows of X, counted in the sample first: when it holds `enough`, all of X need not be."""
    found = len(np.unique(X[chosen], axis=0))
    return found if found >= enough else len(pd.DataFrame(X).drop_duplicates())


class Unclusterable(ValueError):
    """The customers cannot be split into groups (the message says why)."""


def cluster(
    table: pd.DataFrame, ks: range = range(2, 9), sample: int = 5_000, seed: int = 0, threads: int | None = THREADS
) -> Clusters:
    """k-means for each k in `ks`, scored by silhouette on a random `sample` of customers (silhouette is
    quadratic); the best k is kept. `threads` bounds the native thread pools meanwhile (None: no bound).
    k never exceeds the customers' distinct profiles (more would leave clusters empty or alike); with fewer
    distinct profiles than the smallest k, Unclusterable says so."""
    X = StandardScaler().fit_transform(features(table))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(X), min(sample, len(X)), replace=False)
    distinct = _distinct(X, chosen, enough=max(ks, default=0))
    ks = range(ks.start, min(ks.stop, distinct + 1), ks.step)
    if not ks:
        if distinct <= 1:
            raise Unclusterable(f"all {len(X)} customers have the same recency, frequency, spend and basket")
        raise Unclusterable(f"the customers have only {distinct} distinct profiles, fewer than k = {ks.start}")
    with threadpool_limits(limits=threads):
        fitted = {k: KMeans(n_clusters=k, n_init=3, random_state=seed).fit(X) for k in ks}
        scores = silhouettes(X[chosen], {k: model.labels_[chosen] for k, model in fitted.items()})
    best = max(scores, key=scores.get)
    centres = pd.DataFrame(fitted[best].cluster_centers_, columns=list(FEATURES))
    return Clusters(best, scores, fitted[best].labels_, centres, {i: describe(c) for i, c in centres.iterrows()})
