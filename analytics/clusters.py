"""Behavioural clusters: k-means on log-scaled, standardised features (recency, frequency, monetary value,
average order value), k chosen by silhouette, and each cluster described in words from its centre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

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


def cluster(table: pd.DataFrame, ks: range = range(2, 9), sample: int = 5_000, seed: int = 0) -> Clusters:
    """k-means for each k in `ks`, scored by silhouette on a random `sample` of customers (silhouette is
    quadratic); the best k is kept."""
    X = StandardScaler().fit_transform(features(table))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(X), min(sample, len(X)), replace=False)
    scores: dict[int, float] = {}
    fitted: dict[int, KMeans] = {}
    for k in ks:
        fitted[k] = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(X)
        scores[k] = float(silhouette_score(X[chosen], fitted[k].labels_[chosen]))
    best = max(scores, key=scores.get)
    centres = pd.DataFrame(fitted[best].cluster_centers_, columns=list(FEATURES))
    return Clusters(best, scores, fitted[best].labels_, centres, {i: describe(c) for i, c in centres.iterrows()})
