"""Top-K ranking metrics as the recommender literature defines them, for users with held-out items.

`recommended` is an (users x K) array of item indices, best first; `relevant` the held-out items of each
user (a CSR matrix with the same rows, any non-zero counts as relevant). Users with nothing held out are
left out of every average. Definitions (binary relevance):
    precision@K = hits / K
    recall@K    = hits / |relevant|
    NDCG@K      = DCG / ideal DCG, DCG = sum over hits at rank r (1-based) of 1 / log2(r + 1)
    MAP@K       = mean over users of AP@K = (1 / |relevant|) * sum over hits at rank r of precision@r: Microsoft
                  Recommenders' published MAP (their `map_at_k` computed this until 1.2 renamed it `map`; see
                  recommender/protocol.py), so every table the project prints uses one definition. A user with more
                  relevant items than K cannot reach 1. (`denominator="min"`: divided by min(K, |relevant|)
                  instead, the newer `map_at_k` and RecBole's convention, on request only.)
    hit rate@K  = share of users with at least one hit
    coverage@K  = share of the catalogue recommended to anyone
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def _hits(recommended: np.ndarray, relevant: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """A (users x K) boolean array of hits and each user's number of relevant items, for users with some."""
    relevant = sparse.csr_matrix(relevant)
    counts = np.diff(relevant.indptr)
    hits = np.zeros(recommended.shape, dtype=bool)
    for row in range(recommended.shape[0]):
        items = relevant.indices[relevant.indptr[row] : relevant.indptr[row + 1]]
        hits[row] = np.isin(recommended[row], items)
    keep = counts > 0
    return hits[keep], counts[keep]


def precision_at_k(recommended: np.ndarray, relevant: sparse.csr_matrix) -> float:
    hits, _ = _hits(recommended, relevant)
    return float(hits.sum(axis=1).mean() / recommended.shape[1]) if len(hits) else 0.0


def recall_at_k(recommended: np.ndarray, relevant: sparse.csr_matrix) -> float:
    hits, counts = _hits(recommended, relevant)
    return float((hits.sum(axis=1) / counts).mean()) if len(hits) else 0.0


def ndcg_at_k(recommended: np.ndarray, relevant: sparse.csr_matrix) -> float:
    hits, counts = _hits(recommended, relevant)
    if not len(hits):
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, recommended.shape[1] + 2))
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(counts, recommended.shape[1]) - 1]
    return float((dcg / ideal).mean())


def map_at_k(recommended: np.ndarray, relevant: sparse.csr_matrix, denominator: str = "relevant") -> float:
    """`denominator`: "relevant" divides each user's sum by |relevant| (the published definition; a user with
    more relevant items than K can never reach 1), "min" by min(K, |relevant|) (a perfect list scores 1)."""
    if denominator not in ("min", "relevant"):
        raise ValueError("denominator should be 'min' or 'relevant'")
    hits, counts = _hits(recommended, relevant)
    if not len(hits):
        return 0.0
    k = recommended.shape[1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    divisor = np.minimum(counts, k) if denominator == "min" else counts
    return float(((precision_at_rank * hits).sum(axis=1) / divisor).mean())


def hit_rate_at_k(recommended: np.ndarray, relevant: sparse.csr_matrix) -> float:
    hits, _ = _hits(recommended, relevant)
    return float(hits.any(axis=1).mean()) if len(hits) else 0.0


def coverage_at_k(recommended: np.ndarray, n_items: int) -> float:
    return float(len(np.unique(recommended[recommended >= 0])) / n_items) if n_items else 0.0


def all_metrics(recommended: np.ndarray, relevant: sparse.csr_matrix, n_items: int) -> dict[str, float]:
    k = recommended.shape[1]
    return {
        f"precision@{k}": precision_at_k(recommended, relevant),
        f"recall@{k}": recall_at_k(recommended, relevant),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant),
        f"map@{k}": map_at_k(recommended, relevant),
        f"hit_rate@{k}": hit_rate_at_k(recommended, relevant),
        f"coverage@{k}": coverage_at_k(recommended, n_items),
    }
