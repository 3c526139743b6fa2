"""Top-k with bounded memory: the ranking helpers every model shares, and an approximate nearest-neighbour index
over factor vectors for catalogues too large to score every item.

- `top_k` ranks the rows of a dense block of scores; models score users (or items) a block at a time,
  `block_rows` of them so that a block holds at most `SCORE_BUDGET` scores, so memory does not grow with the
  number of users ranked.
- `top_of_rows` ranks the stored entries of each row of a sparse matrix (item-kNN's neighbours), without
  densifying anything.
- `FactorIndex` is an inverted-file index (IVF, as in FAISS's IndexIVFFlat): the item vectors are clustered by
  spherical k-means on a sample, and a query scores only the items of the `probes` clusters whose centres point
  most its way: 4 sqrt(n) clusters, and enough probes to scan about 30 candidates per result wanted (at least 8
clusters), so a buyer's 100 come from about 3,000 of a million products and a product's 20 similar ones
from 2,000.
  It answers inner-product queries (a user's factors: the model's own scores) and cosine ones (an item's
  "similar products"); `benchmarks.recommender --size huge` prints its recall against the exact answer.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

# Scores held at once when a model ranks a block of rows: 16M floats (64 MiB), whatever the catalogue's size.
SCORE_BUDGET = 1 << 24


def block_rows(n_columns: int, budget: int = SCORE_BUDGET) -> int:
    return max(1, budget // max(1, n_columns))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's `k` highest scores, highest first (argpartition, then sort only those); a score
    of -inf (an excluded item) comes back as -1, the padding of a row with fewer than k candidates."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    ranked = np.take_along_axis(part, order, axis=1)
    ranked[np.take_along_axis(scores, ranked, axis=1) == -np.inf] = -1
    return ranked


def rank_in_rows(matrix: sparse.csr_matrix) -> np.ndarray:
    """For each stored entry, its 0-based rank within its row by value, highest first (ties: column order);
    entries are taken in the CSR order of `matrix`, which must be canonical (sorted indices)."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((-matrix.data, rows))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[rows[order]]
    return rank


def keep_top_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row's `k` largest stored entries, the rest dropped (vectorised: one sort of the stored values)."""
    matrix = sparse.csr_matrix(matrix)
    matrix.sum_duplicates()
    keep = rank_in_rows(matrix) < k
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[keep]
    return sparse.csr_matrix((matrix.data[keep], (rows, matrix.indices[keep])), shape=matrix.shape, dtype=np.float32)


def top_of_rows(matrix: sparse.csr_matrix, k: int, exclude: sparse.spmatrix | None = None) -> np.ndarray:
    """A rows x k array of each row's columns with the highest stored values, best first, padded with -1;
    stored entries of `exclude` (same shape) are skipped."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float32, copy=True)
    matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    if exclude is not None:
        keys = rows.astype(np.int64) * matrix.shape[1] + matrix.indices
        keep = ~np.isin(keys, excluded_keys(exclude, matrix.shape[1]))
        matrix = sparse.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)
        rows = rows[keep]
    rank = rank_in_rows(matrix)
    out = np.full((matrix.shape[0], k), -1, dtype=np.int64)
    keep = rank < k
    out[rows[keep], rank[keep]] = matrix.indices[keep]
    return out


def excluded_keys(exclude: sparse.spmatrix | None, n_columns: int) -> np.ndarray:
    """Each stored (row, column) of `exclude` as one sorted int64 key, row * n_columns + column."""
    if exclude is None:
        return np.empty(0, dtype=np.int64)
    coo = sparse.coo_matrix(exclude)
    return np.sort(coo.row.astype(np.int64) * n_columns + coo.col)


MAX_EXTRA = 200
# A query for k results scans clusters holding about this many candidates per result (at least `probes`
# clusters): on iALS factors 30 per result finds 99% of the exact top 100, 14 per result 94%.
SCANNED_PER_RESULT = 30


class FactorIndex:
    """Items' factor vectors in `clusters` groups (spherical k-means on a sample of `sample_per_cluster` per
    cluster, `iterations` rounds); `search` scans the `probes` groups nearest each query.

    Clustered by direction alone, the index answers cosine queries (similar products). For inner products (a
    buyer's scores), `inner_product=True` clusters each vector v with one more coordinate, sqrt(M² - |v|²),
    divided by M (the largest norm): all keys then have length 1 and a query (q, 0) is closest to the item with
    the highest q · v (Bachrach et al. 2014, the reduction of maximum inner product search to nearest
    neighbours), so long vectors (popular products) are grouped by their length as well as their direction."""

    def __init__(self, vectors: np.ndarray, clusters: int | None = None, probes: int = 8, iterations: int = 8,
                 sample_per_cluster: int = 32, seed: int = 0, inner_product: bool = False) -> None:  # fmt: skip
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(vectors)
        self.clusters = int(clusters or np.clip(4 * np.sqrt(n), 1, min(n, 8192)))
        self.probes, self.inner_product = probes, inner_product
        self.norms = np.linalg.norm(vectors, axis=1).astype(np.float32) + 1e-9
        self.longest = float(self.norms.max()) if n else 1.0
        rng = np.random.default_rng(seed)
        sample = self._keys(vectors[rng.choice(n, min(n, self.clusters * sample_per_cluster), replace=False)])
        centres = sample[rng.choice(len(sample), self.clusters, replace=False)]
        for _ in range(iterations):
            assigned = self._nearest(sample, centres)
            sums = np.zeros_like(centres)
            np.add.at(sums, assigned, sample)
            empty = np.bincount(assigned, minlength=self.clusters) == 0
            sums[empty] = sample[rng.choice(len(sample), int(empty.sum()))]  # a lost centre starts again
            centres = sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-9)
        self.centres = centres.astype(np.float32)
        assigned = np.concatenate(
            [self._nearest(self._keys(vectors[s : s + 65_536]), centres) for s in range(0, n, 65_536)]
        ) if n else np.empty(0, dtype=np.int64)  # fmt: skip
        self.members = np.argsort(assigned, kind="stable")  # item ids, cluster by cluster
        self.offsets = np.concatenate([[0], np.cumsum(np.bincount(assigned, minlength=self.clusters))])

    def _keys(self, vectors: np.ndarray) -> np.ndarray:
        """What is clustered: unit directions, or for inner products the vectors lifted onto the unit sphere."""
        if not self.inner_product:
            return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9)
        lift = np.sqrt(np.maximum(self.longest**2 - np.einsum("ij,ij->i", vectors, vectors), 0.0))
        return np.hstack([vectors, lift[:, None]]).astype(np.float32) / self.longest

    def _query_keys(self, queries: np.ndarray) -> np.ndarray:
        return np.hstack([queries, np.zeros((len(queries), 1), np.float32)]) if self.inner_product else queries

    @staticmethod
    def _nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
        return np.argmax(vectors @ centres.T, axis=1)

    def search(self, queries: np.ndarray, vectors: np.ndarray, k: int, exclude: sparse.spmatrix | None = None,
               cosine: bool = False, probes: int | None = None) -> np.ndarray:  # fmt: skip
        """The `k` items with the highest query · item (cosine: divided by the items' norms, queries taken as
        unit vectors) among the probed clusters, best first, padded with -1; `exclude`'s stored entries
        (queries x items) never come back."""
        queries = np.asarray(queries, dtype=np.float32)
        n_queries, n_items = len(queries), len(vectors)
        typical = max(1.0, n_items / self.clusters)
        probes = min(probes or max(self.probes, int(np.ceil(SCANNED_PER_RESULT * k / typical))), self.clusters)
        nearest = top_k(self._query_keys(queries) @ self.centres.T, probes)  # queries x probes cluster ids
        pairs = np.argsort(nearest.ravel(), kind="stable")
        cluster_of_pair = nearest.ravel()[pairs]
        query_of_pair, slot_of_pair = np.divmod(pairs, probes)
        bounds = np.searchsorted(cluster_of_pair, np.arange(self.clusters + 1))
        keys = excluded_keys(exclude, n_items)
        # Excluded items are dropped after the merge: each cluster keeps enough extra candidates for them (up
        # to MAX_EXTRA; a query with more excluded items than that in one cluster may get a shorter list).
        extra = int(np.diff(sparse.csr_matrix(exclude).indptr).max()) if exclude is not None and keys.size else 0
        per = k + min(extra, MAX_EXTRA)
        items = np.full((n_queries, probes, per), -1, dtype=np.int64)
        scores = np.full((n_queries, probes, per), -np.inf, dtype=np.float32)
        for cluster in np.unique(cluster_of_pair):
            lo, hi = bounds[cluster], bounds[cluster + 1]
            members = self.members[self.offsets[cluster] : self.offsets[cluster + 1]]
            if not len(members):
                continue
            who, slot = query_of_pair[lo:hi], slot_of_pair[lo:hi]
            block = queries[who] @ vectors[members].T
            if cosine:
                block /= self.norms[members]
            best = top_k(block, per)
            items[who, slot, : best.shape[1]] = members[best]
            scores[who, slot, : best.shape[1]] = np.take_along_axis(block, best, axis=1)
        items, scores = items.reshape(n_queries, -1), scores.reshape(n_queries, -1)
        if keys.size:
            flat = np.arange(n_queries)[:, None] * n_items + items
            scores[np.isin(flat, keys) | (items < 0)] = -np.inf
        chosen = top_k(scores, k)
        return np.where(chosen >= 0, np.take_along_axis(items, np.maximum(chosen, 0), axis=1), -1)

    def similar_all(self, vectors: np.ndarray, k: int, probes: int | None = None) -> np.ndarray:
        """Every item's `k` nearest by cosine (itself left out), padded with -1: cluster by cluster, the
        cluster's items against the items of the `probes` clusters nearest its centre (its own first), one
        matrix product each; memory: one cluster's block."""
        probes = min(probes or self.probes, self.clusters)
        near = top_k(self.centres @ self.centres.T, probes + 1)
        out = np.full((len(vectors), min(k, len(vectors))), -1, dtype=np.int64)
        for cluster in range(self.clusters):
            own = self.members[self.offsets[cluster] : self.offsets[cluster + 1]]
            if not len(own):
                continue
            others = [c for c in near[cluster] if c >= 0 and c != cluster][: probes - 1]
            candidates = np.concatenate([own, *(self.members[self.offsets[c] : self.offsets[c + 1]] for c in others)])
            targets = vectors[candidates].T / self.norms[candidates]
            for start in range(0, len(own), block_rows(len(candidates))):
                queries = own[start : start + block_rows(len(candidates))]
                block = (vectors[queries] / self.norms[queries, None]) @ targets
                block[np.arange(len(queries)), start + np.arange(len(queries))] = -np.inf  # itself
                best = top_k(block, out.shape[1])
                out[queries] = np.where(best >= 0, candidates[np.maximum(best, 0)], -1)
        return out
