"""The recommender's models as scikit-learn estimators (issue #18): hyper-parameters kept as given, `clone`,
`get_params`/`set_params`, `fit(X, y=None)`, NotFittedError before fitting, and model selection that clones
its prototypes instead of fitting them. No database: these run on small matrices whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)
from sklearn.utils.validation import check_is_fitted

from recommender import training
from recommender.data import Interactions
from recommender.evaluate import evaluate, split_random
from recommender.models import EASE, IALS, Blend, ItemKNN, Popularity, PureSVD, Recommender

# One of each model, with hyper-parameters away from the defaults so a copy that fell back to them shows.
MODELS = [
    Popularity(),
    ItemKNN(neighbours=5, shrink=2.0),
    EASE(l2=7.0),
    PureSVD(factors=3, random_state=4),
    IALS(factors=4, regularization=3.0, alpha=1.5, frequency_scaling=0.5, iterations=4, cg_steps=3, random_state=2),
]
IDS = [type(m).__name__ for m in MODELS]
OTHER_PARAMS = {
    "Popularity": {},
    "ItemKNN": {"neighbours": 2, "shrink": 0.5},
    "EASE": {"l2": 30.0},
    "PureSVD": {"factors": 2, "random_state": 9},
    "IALS": {
        "factors": 2,
        "regularization": 1.0,
        "alpha": 4.0,
        "frequency_scaling": 0.0,
        "iterations": 2,
        "cg_steps": 1,
        "random_state": 5,
    },
}


def tribes(users: int = 40, seed: int = 2) -> sparse.csr_matrix:
    """Half the users like items 0-9, half 10-19; each has seen 4 of their 10."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(users):
        base = 0 if user < users // 2 else 10
        for item in rng.choice(np.arange(base, base + 10), 4, replace=False):
            rows.append(user)
            cols.append(int(item))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(users, 20))


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_clone_of_a_fitted_model_is_an_unfitted_copy_with_the_same_params(model: Recommender) -> None:
    fitted = clone(model).fit(tribes())
    copy = clone(fitted)
    assert type(copy) is type(fitted) and copy is not fitted
    assert copy.get_params() == fitted.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    assert not [name for name in vars(copy) if name.endswith("_")]  # nothing learned came along
    check_is_fitted(fitted)  # cloning took nothing from the original
    assert fitted.recommend([0], k=3).shape == (1, 3)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_an_unfitted_model_raises_not_fitted_error_wherever_it_ranks(model: Recommender) -> None:
    unfitted = clone(model)
    history = sparse.csr_matrix(np.ones((1, 20)))
    # NotFittedError is also an AttributeError: pytest.raises checks for the subclass, so a bare
    # AttributeError from a missing `seen_` or `weights_` fails here.
    for call in (
        lambda: unfitted.recommend([0], k=3),
        lambda: unfitted.recommend_histories(history, k=3),
        lambda: unfitted.similar_items(0, k=3),
    ):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_get_params_and_set_params_round_trip(model: Recommender) -> None:
    params = model.get_params()
    assert type(model)(**params).get_params() == params
    changed = clone(model)
    other = OTHER_PARAMS[type(model).__name__]
    assert changed.set_params(**other) is changed
    assert changed.get_params() == {**params, **other}
    assert changed.set_params(**params).get_params() == params
    with pytest.raises(ValueError, match="Invalid parameter"):
        changed.set_params(no_such_parameter=1)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_constructors_keep_hyper_parameters_as_given(model: Recommender) -> None:
    """No validation or derived values in `__init__`: what goes in comes back, the very object."""
    name = type(model).__name__
    check_no_attributes_set_in_init(name, model)
    check_parameters_default_constructible(name, model)
    check_get_params_invariance(name, model)
    check_set_params(name, model)
    marker = object()
    for param in model.get_params():
        assert getattr(type(model)(**{param: marker}), param) is marker


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_fit_takes_an_unused_y_and_returns_the_model(model: Recommender) -> None:
    matrix = tribes()
    with_y, keyword = clone(model), clone(model)
    assert with_y.fit(matrix, None) is with_y and keyword.fit(matrix, y=None) is keyword
    users = np.arange(matrix.shape[0])
    assert (with_y.recommend(users, k=5) == clone(model).fit(matrix).recommend(users, k=5)).all()


def test_set_params_changes_what_the_next_fit_learns() -> None:
    model = ItemKNN(neighbours=5, shrink=0.0).fit(tribes())
    assert np.diff(model.similarity_.tocsc().indptr).max() == 5  # column j holds j's neighbours
    model.set_params(neighbours=1).fit(tribes())
    assert np.diff(model.similarity_.tocsc().indptr).max() == 1


def test_a_fit_that_fails_leaves_the_model_unfitted() -> None:
    model = EASE(l2=0.0)
    with pytest.raises(np.linalg.LinAlgError):
        model.fit(sparse.csr_matrix((3, 4)))  # no interactions and no regularisation: a singular Gram matrix
    with pytest.raises(NotFittedError):
        model.recommend([0], k=2)


def test_candidates_are_fresh_unfitted_clones_of_the_prototypes() -> None:
    first, second = training.candidates(20), training.candidates(20)
    ials = ["ials reg=20 alpha=2", "ials reg=25 alpha=2", "ials reg=20 alpha=3", "ials reg=25 alpha=3"]
    knn_svd = ["itemknn k=200", "itemknn k=50", "puresvd f=64", "puresvd f=16"]
    assert list(first) == [*knn_svd, "ease l2=100", "ease l2=200", "ease l2=400", "ease l2=800", *ials]
    assert first["itemknn k=200"].get_params() == ItemKNN(neighbours=200).get_params()
    assert first["ease l2=800"].get_params() == EASE(l2=800.0).get_params()
    assert first["ials reg=25 alpha=3"].get_params() == IALS(regularization=25.0, alpha=3.0).get_params()
    prototypes = [prototype for _, prototype, _ in training.SEARCH]
    for name, model in first.items():
        assert model is not second[name] and all(model is not p for p in prototypes)
        with pytest.raises(NotFittedError):
            check_is_fitted(model)
    # Too many products for EASE's inversion; too many pairs for a grid of fits: each model's first setting.
    big = training.candidates(training.EASE_MAX_ITEMS + 1, training.GRID_MAX_PAIRS + 1)
    assert list(big) == ["itemknn k=200", "puresvd f=64", "ials reg=20 alpha=2"]
    assert big["ials reg=20 alpha=2"].get_params() == IALS().get_params()


def test_evaluate_fits_clones_and_leaves_the_models_passed_unfitted() -> None:
    matrix = tribes()
    train, test = split_random(matrix, test_share=0.25, seed=0)
    models = {"itemknn": ItemKNN(neighbours=5), "ease": EASE(l2=7.0)}
    once = evaluate(models, train, test, k=5)
    for model in models.values():
        with pytest.raises(NotFittedError):
            check_is_fitted(model)
    again = evaluate(models, train, test, k=5)  # the same prototypes again: the same figures
    assert once.drop(columns="fit_seconds").equals(again.drop(columns="fit_seconds"))


def test_choose_refits_a_fresh_clone_of_the_best_candidate_on_everything() -> None:
    matrix = tribes()
    data = Interactions(matrix=matrix, user_ids=np.arange(100, 140), item_ids=np.arange(500, 520))
    name, model, table = training.choose(data)
    tried = training.candidates(20)
    assert name == table["ndcg@10"].idxmax() and list(table.index[: len(tried)]) == list(tried)
    # Then the two best kinds of model, each at its best setting, blended at each weight.
    mixed = training.blends(table.iloc[: len(tried)], tried)
    assert list(table.index[len(tried) :]) == list(mixed) and len(mixed) == len(training.BLEND_WEIGHTS)
    expected = {**tried, **mixed}[name]
    assert repr(model) == repr(expected)
    assert (model.seen_ != sparse.csr_matrix(matrix, dtype=np.float32)).nnz == 0  # refitted on all of it
    users = np.arange(matrix.shape[0])
    fresh = clone(expected).fit(matrix)
    assert (model.recommend(users, k=5) == fresh.recommend(users, k=5)).all()
    for _, prototype, _ in training.SEARCH:
        with pytest.raises(NotFittedError):
            check_is_fitted(prototype)


def test_blends_pair_the_best_setting_of_the_two_best_kinds() -> None:
    tried = training.candidates(20)
    scores = {name: 0.1 for name in tried} | {"ease l2=400": 0.5, "ease l2=200": 0.45, "itemknn k=50": 0.3}
    table = pd.DataFrame({"ndcg@10": scores})
    mixed = training.blends(table, tried)
    assert list(mixed) == [f"ease l2=400 + {w:g} x itemknn k=50" for w in training.BLEND_WEIGHTS]
    blend = mixed["ease l2=400 + 0.5 x itemknn k=50"]
    assert blend.weights == [1.0, 0.5] and [m.get_params() for m in blend.models] == [
        EASE(l2=400.0).get_params(),
        ItemKNN(neighbours=50).get_params(),
    ]
    only_ease = {name: model for name, model in tried.items() if name.startswith("ease")}
    assert training.blends(table.loc[list(only_ease)], only_ease) == {}


def test_a_blend_fits_clones_and_adds_standardised_scores() -> None:
    matrix = tribes()
    parts = [ItemKNN(neighbours=5), EASE(l2=7.0)]
    blend = Blend(parts, [1.0, 0.5]).fit(matrix)
    for part in parts:  # the prototypes stay unfitted, as VotingClassifier's do
        with pytest.raises(NotFittedError):
            check_is_fitted(part)
    histories = blend.seen_[:3]
    alone = [clone(p).fit(matrix)._score(histories) for p in parts]

    def z(s: np.ndarray) -> np.ndarray:
        return (s - s.mean(axis=1, keepdims=True)) / (s.std(axis=1, keepdims=True) + 1e-9)

    assert np.allclose(blend._score(histories), z(alone[0]) + 0.5 * z(alone[1]), atol=1e-5)
    assert clone(blend).get_params()["weights"] == [1.0, 0.5]
    assert set(blend.similar_items(3, k=3)) <= set(range(10)) - {3}
    with pytest.raises(ValueError, match="one weight per model"):
        Blend(parts, [1.0]).fit(matrix)


def test_ials_recommends_within_a_users_taste_and_ranks_a_new_history_like_a_fitted_one() -> None:
    matrix = tribes()
    model = IALS(factors=2, regularization=1.0).fit(matrix)  # two tribes: two factors
    top = model.recommend([0, 39], k=5)
    assert set(top[0]) <= set(range(10)) and set(top[1]) <= set(range(10, 20))
    assert not set(top[0]) & set(matrix[0].indices)
    assert set(model.similar_items(3, k=3)) <= set(range(10)) - {3}
    # A browsing buyer's history the model never saw is folded in the same way as a fitted one.
    assert (model.recommend_histories(matrix[[0, 39]], k=5) == top).all()
    session = sparse.csr_matrix(([1.0, 1.0], ([0, 0], [12, 15])), shape=(1, 20))
    assert set(model.recommend_histories(session, k=5)[0]) <= set(range(10, 20)) - {12, 15}


def test_ials_penalty_grows_with_a_rows_feedback_only_when_frequency_scaled() -> None:
    history = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    scaled = IALS(regularization=2.0, alpha=1.0, frequency_scaling=1.0)._row_penalty(history, other=4)
    flat = IALS(regularization=2.0, alpha=1.0, frequency_scaling=0.0)._row_penalty(history, other=4)
    assert scaled == pytest.approx([2.0 * (2 * 2 + 4) / 4, 2.0]) and flat == pytest.approx([2.0, 2.0])
