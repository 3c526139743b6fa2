"""Cold start from product text: what to show for a product nobody has interacted with yet, and for a buyer the
interaction model does not know.

`ContentModel` is TF-IDF over each product's title, brand, model, category, attributes and description, with
character n-grams inside words (scikit-learn's `char_wb`, 2 to 4 characters): no tokenizer is needed, so a
Chinese title (茶壶, no spaces) matches its neighbours as an English one does, and a typo costs one n-gram, not
the word. Rows are L2-normalised, so a dot product is the cosine. It follows scikit-learn's conventions
(constructor arguments kept as given, learned state ending in `_`).

How its lists are blended with the interaction model's (training and the worker): the interaction model ranks
what it knows; products it cannot rank (no interactions yet: "cold") come from text, and take at most one place
in `EVERY` of a list (`interleave`). A cold product's own similar products, and a buyer with nothing the model
knows, are text's alone."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from recommender.neighbours import top_of_rows

EVERY = 3  # a text-found product may take every third place of a list the interaction model ranked


class ContentModel(BaseEstimator):
    def __init__(self, ngram_range: tuple[int, int] = (2, 4), min_df: int = 1, max_features: int | None = 200_000,
                 ) -> None:  # fmt: skip
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, texts: list[str], y: None = None) -> ContentModel:
        """One text per product; the products are then known by their position in `texts`."""
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, min_df=self.min_df,
                                     max_features=self.max_features, sublinear_tf=True, dtype=np.float32)  # fmt: skip
        self.vectors_ = sparse.csr_matrix(vectorizer.fit_transform(texts))
        self.vectorizer_ = vectorizer
        return self

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        check_is_fitted(self)
        return sparse.csr_matrix(self.vectorizer_.transform(texts))

    def profiles(self, histories: sparse.spmatrix) -> sparse.csr_matrix:
        """Each history (rows over the fitted products, any weights) as one unit vector of its products' text."""
        check_is_fitted(self)
        return sparse.csr_matrix(normalize(sparse.csr_matrix(histories, dtype=np.float32) @ self.vectors_))

    def similar(self, queries: sparse.spmatrix, k: int, among: np.ndarray | None = None,
                exclude: sparse.spmatrix | None = None) -> np.ndarray:  # fmt: skip
        """For each query vector (from `transform`, `profiles` or `vectors_` rows), the `k` fitted products with
        the closest text, best first, padded with -1: positions into the fitted texts, drawn from `among` (by
        default all); `exclude` (queries x all products) names products never returned."""
        check_is_fitted(self)
        among = np.arange(self.vectors_.shape[0]) if among is None else np.asarray(among, dtype=np.int64)
        scores = sparse.csr_matrix(sparse.csr_matrix(queries) @ self.vectors_[among].T)
        if exclude is not None:
            exclude = sparse.csr_matrix(exclude)[:, among]
        found = top_of_rows(scores, k, exclude)
        return np.where(found >= 0, among[np.maximum(found, 0)], -1)

    def similar_items(self, items: np.ndarray | list[int], k: int, among: np.ndarray | None = None) -> np.ndarray:
        """For fitted products `items`, the `k` closest by text (each product itself left out)."""
        items = np.asarray(items, dtype=np.int64)
        n = self.vectors_.shape[0]
        itself = sparse.csr_matrix((np.ones(len(items)), (np.arange(len(items)), items)), shape=(len(items), n))
        return self.similar(self.vectors_[items], k, among, exclude=itself)


def interleave(ranked: list[int], cold: list[int], length: int, every: int = EVERY) -> list[int]:
    """`ranked` with `cold` products taking every `every`-th place (places every-1, 2*every-1, ...) while they
    last, no product twice, at most `length` long. With nothing ranked, the cold list alone."""
    out: list[int] = []
    seen: set[int] = set()
    ranked_iter, cold_iter = iter(ranked), iter(cold)

    def take(source: Iterator[int]) -> bool:
        for product in source:
            if product not in seen:
                seen.add(product)
                out.append(product)
                return True
        return False

    while len(out) < length:
        turn = cold_iter if (len(out) + 1) % every == 0 else ranked_iter
        if not take(turn) and not take(ranked_iter if turn is cold_iter else cold_iter):
            break
    return out


class ColdStart:
    """The content model over the listed catalogue, beside an interaction model that knows `item_ids` (its
    columns' product ids): which products are cold, and text's lists for products and buyers."""

    def __init__(self, content: ContentModel, product_ids: np.ndarray, item_ids: np.ndarray) -> None:
        self.content, self.product_ids = content, np.asarray(product_ids)
        self.row_of = {int(p): i for i, p in enumerate(self.product_ids)}
        rows = np.array([self.row_of.get(int(p), -1) for p in item_ids], dtype=np.int64)
        self.item_rows = rows  # model column → content row (-1: not listed now)
        known = np.zeros(len(self.product_ids), dtype=bool)
        known[rows[rows >= 0]] = True
        self.cold = np.flatnonzero(~known)  # content rows nobody has interacted with

    def rows(self, histories: sparse.spmatrix) -> sparse.csr_matrix:
        """Histories over the model's columns as histories over the content rows (unlisted products dropped)."""
        coo = sparse.coo_matrix(histories)
        rows = self.item_rows[coo.col]
        keep = rows >= 0
        shape = (histories.shape[0], len(self.product_ids))
        return sparse.csr_matrix((coo.data[keep], (coo.row[keep], rows[keep])), shape=shape)

    def for_buyers(self, histories: sparse.spmatrix, k: int, everything: bool = False) -> list[list[int]]:
        """Product ids closest to each history's text (rows over the content rows): cold products only, or
        with `everything` any product but those in the history."""
        among = None if everything else self.cold
        if histories.shape[0] == 0 or (among is not None and not len(among)):
            return [[] for _ in range(histories.shape[0])]
        found = self.content.similar(self.content.profiles(histories), k, among, exclude=histories)
        return [self.product_ids[row[row >= 0]].tolist() for row in found]

    def similar_products(self, k: int, per_warm: int = EVERY) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """Each cold product's closest by text (any product), and, for each product that a cold one found among
        its `per_warm` closest, those cold products best first: the ones to blend into its similar list."""
        if not len(self.cold):
            return {}, {}
        found = self.content.similar_items(self.cold, k)
        own = {
            int(self.product_ids[c]): self.product_ids[row[row >= 0]].tolist()
            for c, row in zip(self.cold, found, strict=True)
        }
        blended: dict[int, list[int]] = {}
        for rank in range(min(per_warm, found.shape[1])):
            for c, neighbour in zip(self.cold, found[:, rank], strict=True):
                if neighbour >= 0:
                    blended.setdefault(int(self.product_ids[neighbour]), []).append(int(self.product_ids[c]))
        return own, blended
