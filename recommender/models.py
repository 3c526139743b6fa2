"""Recommenders over a users x items matrix of implicit feedback, as scikit-learn estimators:
`fit(X, y=None)` returning the model, `recommend(users, k, exclude_seen=True)`, `similar_items(item, k)`.
Hyper-parameters are constructor arguments kept as given (so `get_params`, `set_params` and
`sklearn.base.clone` work); what fitting learns ends in `_`, and ranking before fitting raises
`sklearn.exceptions.NotFittedError`.

- Popularity: items by how many users interacted with them (the baseline, and what new buyers get).
- ItemKNN: item-item cosine similarity, each item keeping its `neighbours` most similar (Sarwar et al. 2001),
  with Bellogín-style shrinkage `shrink` against similarities from few co-occurrences.
- EASE: the closed-form shallow autoencoder of Steck (2019), B = -P / diag(P) with P = (XᵀX + λI)⁻¹, diag(B) = 0.
- PureSVD: matrix factorisation by truncated SVD of X, scores X V Vᵀ (Cremonesi, Koren & Turrin 2010).

Indices are matrix positions; mapping them to user and product ids is `data.Interactions`' job.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.extmath import randomized_svd
from sklearn.utils.validation import check_is_fitted


class Recommender(BaseEstimator):
    """Shared ranking: subclasses learn in `_fit` and score histories in `_score`."""

    seen_: sparse.csr_matrix

    def fit(self, X: sparse.spmatrix, y: None = None) -> Recommender:
        """Learn from `X` (users x items interaction weights); `y` is unused, there for scikit-learn's API."""
        seen = sparse.csr_matrix(X, dtype=np.float32)
        self._fit(seen)
        # Set last, so a fit that raised leaves no `seen_` for check_is_fitted to take as fitted.
        self.seen_ = seen
        return self

    def _fit(self, X: sparse.csr_matrix) -> None:
        raise NotImplementedError

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        """Scores of every item for each row of `histories` (rows of interaction weights per item)."""
        raise NotImplementedError

    def recommend(self, users: np.ndarray | list[int], k: int = 10, exclude_seen: bool = True) -> np.ndarray:
        """The top `k` items for each user, best first (a users x k array of item indices, padded with -1
        when a user has seen all but fewer than k items)."""
        check_is_fitted(self)
        return self.recommend_histories(self.seen_[np.asarray(users)], k, exclude_seen)

    def recommend_histories(self, histories: sparse.spmatrix, k: int = 10, exclude_seen: bool = True) -> np.ndarray:
        """The same for histories the model was not fitted on: a buyer's history with this session added."""
        check_is_fitted(self)
        histories = sparse.csr_matrix(histories, dtype=np.float32)
        scores = np.asarray(self._score(histories), dtype=np.float32)
        if exclude_seen:
            scores[histories.nonzero()] = -np.inf
        ranked = top_k(scores, k)
        ranked[np.take_along_axis(scores, ranked, axis=1) == -np.inf] = -1  # fewer than k unseen items: padding
        return ranked

    def similar_items(self, item: int, k: int = 10) -> np.ndarray:
        """The `k` items most like `item`, most similar first (the item itself excluded)."""
        check_is_fitted(self)
        similarity = np.asarray(self._similarity(item), dtype=np.float32).ravel().copy()
        similarity[item] = -np.inf
        return top_k(similarity[None, :], k)[0]

    def _similarity(self, item: int) -> np.ndarray:
        raise NotImplementedError


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's `k` highest scores, highest first (argpartition, then sort only those)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


class Popularity(Recommender):
    """No hyper-parameters: `get_params()` is empty."""

    def _fit(self, X: sparse.csr_matrix) -> None:
        self.popularity_ = np.asarray((X > 0).sum(axis=0), dtype=np.float32).ravel()

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        return np.tile(self.popularity_, (histories.shape[0], 1))

    def _similarity(self, item: int) -> np.ndarray:
        return self.popularity_


class ItemKNN(Recommender):
    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def _fit(self, X: sparse.csr_matrix) -> None:
        Xc = sparse.csc_matrix(X)
        norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
        co = (Xc.T @ Xc).tocsr().astype(np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        denominator = norms[co.nonzero()[0]] * norms[co.nonzero()[1]] + self.shrink
        similarity = sparse.csr_matrix((co.data / denominator, co.indices, co.indptr), shape=co.shape)
        self.similarity_ = _keep_top_per_row(similarity, self.neighbours).T.tocsr()  # column j: j's neighbours

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        return (histories @ self.similarity_).toarray()

    def _similarity(self, item: int) -> np.ndarray:
        return self.similarity_[:, item].toarray()


def _keep_top_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    rows, cols, values = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        data, indices = matrix.data[start:end], matrix.indices[start:end]
        if len(data) > k:
            keep = np.argpartition(-data, k - 1)[:k]
            data, indices = data[keep], indices[keep]
        rows.append(np.full(len(data), row))
        cols.append(indices)
        values.append(data)
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape, dtype=np.float32
    )


class EASE(Recommender):
    def __init__(self, l2: float = 500.0) -> None:
        self.l2 = l2

    def _fit(self, X: sparse.csr_matrix) -> None:
        gram = (X.T @ X).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = precision / -np.diag(precision)
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        return histories @ self.weights_

    def _similarity(self, item: int) -> np.ndarray:
        return self.weights_[:, item]


class PureSVD(Recommender):
    def __init__(self, factors: int = 64, random_state: int = 0) -> None:
        self.factors = factors
        self.random_state = random_state

    def _fit(self, X: sparse.csr_matrix) -> None:
        factors = max(1, min(self.factors, min(X.shape) - 1))
        _, _, vt = randomized_svd(X, factors, random_state=self.random_state)
        self.item_factors_ = vt.T.astype(np.float32)  # items x factors

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        return (histories @ self.item_factors_) @ self.item_factors_.T

    def _similarity(self, item: int) -> np.ndarray:
        factors = self.item_factors_
        norms = np.linalg.norm(factors, axis=1) * np.linalg.norm(factors[item]) + 1e-9
        return factors @ factors[item] / norms


MODELS = {"popularity": Popularity, "itemknn": ItemKNN, "ease": EASE, "puresvd": PureSVD}
