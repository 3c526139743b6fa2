"""The recommender's models as scikit-learn estimators (issue #18): hyper-parameters kept as given, `clone`,
`get_params`/`set_params`, `fit(X, y=None)`, NotFittedError before fitting, and model selection that clones
its prototypes instead of fitting them. No database: these run on small matrices whose answer is known."""

from __future__ import annotations

import numpy as np
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
from recommender.models import EASE, ItemKNN, Popularity, PureSVD, Recommender

# One of each model, with hyper-parameters away from the defaults so a copy that fell back to them shows.
MODELS = [Popularity(), ItemKNN(neighbours=5, shrink=2.0), EASE(l2=7.0), PureSVD(factors=3, random_state=4)]
IDS = [type(m).__name__ for m in MODELS]
OTHER_PARAMS = {
    "Popularity": {},
    "ItemKNN": {"neighbours": 2, "shrink": 0.5},
    "EASE": {"l2": 30.0},
    "PureSVD": {"factors": 2, "random_state": 9},
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
    assert list(first) == ["itemknn k=50", "itemknn k=200", "puresvd f=64", "ease l2=50", "ease l2=200", "ease l2=800"]
    assert first["itemknn k=200"].get_params() == ItemKNN(neighbours=200).get_params()
    assert first["ease l2=800"].get_params() == EASE(l2=800.0).get_params()
    prototypes = [prototype for _, prototype, _ in training.SEARCH]
    for name, model in first.items():
        assert model is not second[name] and all(model is not p for p in prototypes)
        with pytest.raises(NotFittedError):
            check_is_fitted(model)
    assert list(training.candidates(training.EASE_MAX_ITEMS + 1)) == ["itemknn k=50", "itemknn k=200", "puresvd f=64"]


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
    assert name == table["ndcg@10"].idxmax() and list(table.index) == list(training.candidates(20))
    assert model.get_params() == training.candidates(20)[name].get_params()
    assert (model.seen_ != sparse.csr_matrix(matrix, dtype=np.float32)).nnz == 0  # refitted on all of it
    users = np.arange(matrix.shape[0])
    fresh = type(model)(**model.get_params()).fit(matrix)
    assert (model.recommend(users, k=5) == fresh.recommend(users, k=5)).all()
    for _, prototype, _ in training.SEARCH:
        with pytest.raises(NotFittedError):
            check_is_fitted(prototype)
