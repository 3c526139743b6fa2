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
- IALS: implicit alternating least squares (Hu, Koren & Volinsky 2008), with conjugate-gradient steps (Takács,
  Pilászy & Tikk 2011) and frequency-scaled regularisation (Rendle et al. 2022, "Revisiting the performance
  of iALS on item recommendation benchmarks").
- Blend: a weighted sum of other models' scores, each standardised per user (z-scores), so scales differ freely.

Indices are matrix positions; mapping them to user and product ids is `data.Interactions`' job.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import lapack
from sklearn.base import BaseEstimator, clone
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
        # Inverted through its Cholesky factor (the regularised Gram is positive definite): 1.5 times faster
        # than np.linalg.inv at 5,000 items, which matters with several settings of l2 to try.
        factor, info = lapack.dpotrf(gram, lower=False, overwrite_a=True)
        if info == 0:
            precision, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError("the regularised Gram matrix is not positive definite")
        precision = np.triu(precision)
        precision += np.triu(precision, 1).T  # dpotri fills the upper triangle only
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


class IALS(Recommender):
    """User and item factors fitted to a preference of 1 on every interaction, with confidence 1 + alpha *
    weight, and 0 everywhere else, with confidence 1. A row's (user's or item's) regularisation grows with
    its feedback, `regularization` * (((1 + alpha) * n + m) / m) ** `frequency_scaling` for a row with n
    interactions out of m columns: on MovieLens 100K the scaled penalty (`frequency_scaling` 1) ranks better than a flat
    one (0), and it follows the data's size, so a value tuned on a validation split carries over to
    the refit on everything. Each half-step takes `cg_steps` conjugate-gradient steps from the previous
    factors, for all rows at once (sparse products, nothing per row in Python)."""

    def __init__(self, factors: int = 64, regularization: float = 20.0, alpha: float = 2.0,
                 frequency_scaling: float = 1.0, iterations: int = 10, cg_steps: int = 2,
                 random_state: int = 0) -> None:  # fmt: skip
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.frequency_scaling = frequency_scaling
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.random_state = random_state

    def _fit(self, X: sparse.csr_matrix) -> None:
        rng = np.random.default_rng(self.random_state)
        users = rng.normal(0.0, 0.01, (X.shape[0], self.factors)).astype(np.float32)
        items = rng.normal(0.0, 0.01, (X.shape[1], self.factors)).astype(np.float32)
        by_item = sparse.csr_matrix(X.T)
        for _ in range(self.iterations):
            users = self._half_step(X, items, users)
            items = self._half_step(by_item, users, items)
        self.item_factors_ = items

    def _row_penalty(self, X: sparse.csr_matrix, other: int) -> np.ndarray:
        counts = np.diff(X.indptr).astype(np.float32)
        return self.regularization * (((1 + self.alpha) * counts + other) / other) ** self.frequency_scaling

    def _half_step(self, X: sparse.csr_matrix, Y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """CG on each row's normal equations (YᵀY + reg_u I + alpha Yᵀ diag(x_u) Y) f_u = Yᵀ (1 + alpha x_u)."""
        gram, penalty = Y.T @ Y, self._row_penalty(X, Y.shape[0])[:, None]
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        confidence = (self.alpha * X.data).astype(np.float32)

        # Each interaction's p_u . y_i, gathered a chunk at a time into reused buffers: cache-sized chunks
        # are over twice as fast as one gather of the whole nnz x factors, and bound the memory.
        left, right = (np.empty((min(_CHUNK, X.nnz), self.factors), np.float32) for _ in range(2))
        dots = np.empty(X.nnz, dtype=np.float32)

        def apply(P: np.ndarray) -> np.ndarray:
            for start in range(0, X.nnz, _CHUNK):
                end = min(start + _CHUNK, X.nnz)
                np.take(P, rows[start:end], axis=0, out=left[: end - start])
                np.take(Y, X.indices[start:end], axis=0, out=right[: end - start])
                dots[start:end] = np.einsum("ij,ij->i", left[: end - start], right[: end - start])
            weighted = sparse.csr_matrix((dots * confidence, X.indices, X.indptr), shape=X.shape)
            return P @ gram + penalty * P + weighted @ Y

        b = sparse.csr_matrix((1 + confidence, X.indices, X.indptr), shape=X.shape) @ Y
        residual = b - apply(x)
        direction = residual.copy()
        norm = np.einsum("ij,ij->i", residual, residual)
        for _ in range(self.cg_steps):
            moved = apply(direction)
            step = norm / np.maximum(np.einsum("ij,ij->i", direction, moved), 1e-20)
            x = x + step[:, None] * direction
            residual = residual - step[:, None] * moved
            new_norm = np.einsum("ij,ij->i", residual, residual)
            direction = residual + (new_norm / np.maximum(norm, 1e-20))[:, None] * direction
            norm = new_norm
        return x

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        """Each history's user factors solved exactly against the item factors (so a history the model was
        not fitted on, a browsing buyer's, is ranked the same way), then scores against every item."""
        Y = self.item_factors_.astype(np.float64)
        gram, penalty = Y.T @ Y, self._row_penalty(histories, Y.shape[0])
        users = np.empty((histories.shape[0], self.factors))
        for row in range(histories.shape[0]):
            start, end = histories.indptr[row], histories.indptr[row + 1]
            seen, confidence = Y[histories.indices[start:end]], self.alpha * histories.data[start:end]
            system = gram + (seen.T * confidence) @ seen + penalty[row] * np.eye(self.factors)
            users[row] = np.linalg.solve(system, seen.T @ (1 + confidence))
        return (users @ Y.T).astype(np.float32)

    def _similarity(self, item: int) -> np.ndarray:
        factors = self.item_factors_
        norms = np.linalg.norm(factors, axis=1) * np.linalg.norm(factors[item]) + 1e-9
        return factors @ factors[item] / norms


_CHUNK = 1 << 14


class Blend(Recommender):
    """`weights[i]` times the per-user z-scores of `models[i]`'s scores, summed. Models that err differently
    mend each other: on MovieLens 100K iALS plus half of EASE ranks better than either, and is less sensitive
    to iALS's settings. `models` are prototypes, as in scikit-learn's VotingClassifier: clones are fitted."""

    def __init__(self, models: list[Recommender] | None = None, weights: list[float] | None = None) -> None:
        self.models = models
        self.weights = weights

    def _fit(self, X: sparse.csr_matrix) -> None:
        models = list(self.models or [])
        weights = [1.0] * len(models) if self.weights is None else list(self.weights)
        if not models or len(weights) != len(models):
            raise ValueError("a blend needs models and one weight per model")
        self.models_ = [clone(model).fit(X) for model in models]
        self.weights_ = np.asarray(weights, dtype=np.float32)

    def _score(self, histories: sparse.csr_matrix) -> np.ndarray:
        return sum(w * _standardise(m._score(histories)) for w, m in zip(self.weights_, self.models_, strict=True))

    def _similarity(self, item: int) -> np.ndarray:
        parts = [np.asarray(m._similarity(item), dtype=np.float32).reshape(1, -1) for m in self.models_]
        return sum(w * _standardise(p) for w, p in zip(self.weights_, parts, strict=True)).ravel()


def _standardise(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float32)
    return (scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-9)


MODELS = {"popularity": Popularity, "itemknn": ItemKNN, "ease": EASE, "puresvd": PureSVD, "ials": IALS, "blend": Blend}
