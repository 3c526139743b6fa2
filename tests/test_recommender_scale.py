"""The recommender at scale and at the edges (issue #20), on small matrices whose answer is known: ranking a
block at a time gives the same lists, the approximate index finds what exact search finds, item-kNN built a
block of items at a time equals the whole co-occurrence matrix, viewed products stay recommendable while bought
ones never come back, training and the live worker weigh interactions alike, model choice keeps to models that
fit the catalogue, and text finds new products and serves new buyers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recommender import models, neighbours, training
from recommender.content import ColdStart, ContentModel, interleave
from recommender.data import from_frame, with_session
from recommender.evaluate import evaluate
from recommender.models import IALS, ItemKNN, PureSVD
from recommender.neighbours import FactorIndex
from tests.test_recommender_estimators import tribes


def test_ranking_a_block_at_a_time_gives_the_same_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = tribes()
    model = IALS(factors=4, regularization=1.0).fit(matrix)
    users = np.arange(matrix.shape[0])
    whole = model.recommend(users, k=5)
    similar = model.similar_all(3)
    monkeypatch.setattr(models, "block_rows", lambda n: 3)  # three users (or items) scored at a time
    assert (model.recommend(users, k=5) == whole).all()
    assert (model.similar_all(3) == similar).all()


def test_the_approximate_index_finds_what_exact_search_finds() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 16))
    vectors = (centres[rng.integers(0, 20, 4000)] + 0.3 * rng.normal(size=(4000, 16))).astype(np.float32)
    index = FactorIndex(vectors, clusters=40, probes=6)
    queries = vectors[:200]
    exact = neighbours.top_k(queries @ vectors.T, 10)
    found = index.search(queries, vectors, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)])
    assert recall > 0.9
    # By cosine each query's best answer is itself; excluded, it never comes back.
    unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    closest = index.search(unit, vectors, 10, cosine=True)
    itself = sparse.csr_matrix((np.ones(200), (np.arange(200), np.arange(200))), shape=(200, 4000))
    without = index.search(unit, vectors, 10, exclude=itself, cosine=True)
    assert (closest[:, 0] == np.arange(200)).all() and not (without == np.arange(200)[:, None]).any()
    # Every item's similar ones at once, cluster by cluster: close to the exact cosine neighbours.
    unit_all = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit_all[:300] @ unit_all.T
    cosine[np.arange(300), np.arange(300)] = -np.inf
    exact_similar, similar = neighbours.top_k(cosine, 10), index.similar_all(vectors, 10)[:300]
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_similar, similar, strict=True)]) > 0.9


@pytest.mark.parametrize("model", [IALS(factors=2, regularization=1.0), PureSVD(factors=2)], ids=["IALS", "PureSVD"])
def test_factor_models_rank_through_the_index_within_a_users_taste(model: models.FactorModel) -> None:
    matrix = tribes()
    exact = model.set_params(search="exact").fit(matrix)
    top = exact.recommend([0, 39], k=5)
    approximate = models.clone(model).set_params(search="approximate").fit(matrix)
    assert approximate.index_ is not None and exact.index_ is None
    found = approximate.recommend([0, 39], k=5)
    assert set(found[0]) <= set(range(10)) and set(found[1]) <= set(range(10, 20))
    assert not set(found[0]) & set(matrix[0].indices)
    assert len(set(found[0]) & set(top[0])) >= 4
    assert set(approximate.similar_items(3, k=3)) <= set(range(10)) - {3}


def test_item_knn_built_a_block_at_a_time_equals_the_whole_co_occurrence(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = sparse.csr_matrix(tribes(), dtype=np.float32)
    dense = matrix.toarray()
    norms = np.linalg.norm(dense, axis=0)
    cosine = dense.T @ dense / (np.outer(norms, norms) + 2.0)
    np.fill_diagonal(cosine, 0)
    monkeypatch.setattr(models, "COOCCURRENCE_BLOCK", 30)  # a handful of items per block
    model = ItemKNN(neighbours=4, shrink=2.0).fit(matrix)
    kept = model.similarity_.T.toarray()  # row i: i's neighbours
    assert ((kept > 0).sum(axis=1) == 4).all()
    for item in range(20):  # the same 4 best values as the whole matrix's (ties may pick other columns)
        assert np.sort(kept[item][kept[item] > 0]) == pytest.approx(np.sort(cosine[item])[-4:], rel=1e-5)
    best = model.similar_all(4)[:, 0]
    assert cosine[np.arange(20), best] == pytest.approx(cosine.max(axis=1), rel=1e-5)


def test_viewed_products_stay_recommendable_and_bought_ones_never_come_back() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
            "item_id": [10, 11, 12, 10, 11, 10, 11, 12, 11, 12],
            "kind": ["view", "view", "purchase", "view", "view", "view", "view", "view", "view", "purchase"],
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )
    data = from_frame(frame, kind="kind")
    model = models.Popularity().fit(data.matrix)
    buyer = 0  # viewed 10 and 11, bought 12
    lists = training.personal_lists(model, data.matrix[[buyer]], data.bought[[buyer]], data.item_ids, None)
    assert 12 not in lists[0] and {10, 11} <= set(lists[0])


def test_the_live_worker_weighs_a_session_as_training_would() -> None:
    old = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 11], "kind": ["view", "purchase"],
                        "timestamp": pd.Timestamp("2026-01-01", tz="UTC")})  # fmt: skip
    session = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [10, 10, 11], "kind": ["cart", "view", "view"],
                            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")})  # fmt: skip
    trained = from_frame(old, kind="kind")
    raw = sparse.csr_matrix(([4.0 + 1.0, 1.0], ([0, 0], [0, 1])), shape=(1, 2))  # the worker's KIND_WEIGHTS sums
    live = with_session(trained.matrix, raw)
    assert live.toarray() == pytest.approx(from_frame(pd.concat([old, session]), kind="kind").matrix.toarray())
    # Capped at one whole funnel: thirty views weigh what a view, a cart addition and a purchase do.
    views = pd.DataFrame({"user_id": [1] * 30 + [2] * 3, "item_id": [10] * 33,
                          "kind": ["view"] * 30 + ["view", "cart", "purchase"], "timestamp": 0})  # fmt: skip
    weights = from_frame(views, kind="kind", time=None).matrix.toarray().ravel()
    assert weights[0] == weights[1] == pytest.approx(np.log1p(15))


def test_model_choice_keeps_to_models_that_fit_the_catalogue() -> None:
    small = training.candidates(2_000, 10_000, 1e6)
    assert any(n.startswith("ease") for n in small) and any(n.startswith("itemknn") for n in small)
    huge = training.candidates(1_000_000, 6_000_000, 4e8)
    assert list(huge) == ["puresvd f=64", "ials reg=20 alpha=2"]


def test_the_legacy_table_can_exclude_what_was_rated_but_not_held_out() -> None:
    train = sparse.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    test = sparse.csr_matrix(np.array([[0, 0, 0, 1], [0, 0, 1, 0]], dtype=np.float32))
    rated = sparse.csr_matrix(np.ones((2, 4), dtype=np.float32))  # each rated every film, some of them low
    table = evaluate({"pop": models.Popularity()}, train, test, k=1, exclude=rated - rated.multiply(test != 0))
    assert table.loc["pop", "precision@1"] == 1.0  # the only film each may be shown is the held-out one


def test_text_finds_a_new_product_and_gives_a_new_buyer_a_list() -> None:
    texts = ["Aurora ceramic teapot 1.2 l white", "Aurora ceramic teapot 0.8 l blue", "Nordic wool scarf grey",
             "Nordic wool scarf red", "紫砂 茶壶 宜兴 手工", "宜兴 紫砂 茶壶 西施壶",
             "Trail running shoe size 42"]  # fmt: skip
    product_ids = np.array([101, 102, 103, 104, 105, 106, 107])
    content = ContentModel().fit(texts)
    # The interaction model knows all but 102 (a new teapot) and 106 (a new Chinese teapot).
    cold = ColdStart(content, product_ids, item_ids=np.array([101, 103, 104, 105, 107]))
    assert sorted(product_ids[cold.cold]) == [102, 106]
    own, blended = cold.similar_products(3)
    assert own[102][0] == 101 and own[106][0] == 105  # their own lists: the textually closest first
    assert 102 in blended[101] and 106 in blended[105]  # and they join the lists of those products
    similar_of_101 = interleave([103, 104, 107], blended[101], 3)
    assert 102 in similar_of_101
    # A buyer the interaction model does not know, who looked at the new teapot: text's list, never empty.
    model = models.Popularity().fit(sparse.csr_matrix(np.ones((2, 5), dtype=np.float32)))
    texts_seen = sparse.csr_matrix(([1.0], ([0], [cold.row_of[102]])), shape=(1, len(product_ids)))
    lists = training.personal_lists(model, sparse.csr_matrix((1, 5), dtype=np.float32), None,
                                    np.array([101, 103, 104, 105, 107]), cold, texts_seen, length=3)  # fmt: skip
    assert lists[0] and lists[0][0] == 101
