"""Tests of sksubset.tuning: a search's chosen configuration, trained on all the data."""

import numpy as np
import pytest
import torch
from conftest import digits_net
from joblib import parallel_backend
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.ensemble import BaggingClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    RandomizedSearchCV,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from sksubset import SubsetTrainingClassifier, full_data_estimator
from sksubset.tuning import FULL_DATA_PARAMS

pytestmark = pytest.mark.usefixtures("one_thread")

GRID = {"net__lr": [0.02, 0.2], "net__optimizer__weight_decay": [0.0, 1e-3]}


def _clf(**kw):
    params = dict(budget=0.2, R=2, kappa=0.25, random_state=0, verbose=0)
    params.update(kw)
    return SubsetTrainingClassifier(digits_net(max_epochs=4), **params)


def _expected(estimator, params):
    """What the full-data estimator's parameters must be: the search's estimator with the
    chosen parameters, then the full-data ones on the classifier."""
    est = clone(estimator).set_params(**params)
    return est.set_params(**FULL_DATA_PARAMS) if isinstance(est, SubsetTrainingClassifier) else est


def _shallow(est):
    """Parameters as comparable values (nets and modules by their own parameters)."""
    return {k: (v.get_params() if hasattr(v, "get_params") else v)
            for k, v in est.get_params(deep=True).items() if not hasattr(v, "fit")}


@pytest.fixture(scope="module")
def grid_search(small):
    return GridSearchCV(_clf(), GRID, cv=2, refit=False).fit(*small)


def test_carries_exactly_the_chosen_parameters(grid_search):
    full = full_data_estimator(grid_search)
    assert isinstance(full, SubsetTrainingClassifier) and full is not grid_search.estimator
    assert _shallow(full) == _shallow(_expected(grid_search.estimator, grid_search.best_params_))
    assert full.net.lr == grid_search.best_params_["net__lr"]
    assert (full.net.optimizer__weight_decay
            == grid_search.best_params_["net__optimizer__weight_decay"])
    assert (full.budget, full.kappa, full.valid_size) == (1.0, 1.0, None)
    assert (full.R, full.random_state) == (2, 0)  # kept
    assert grid_search.estimator.budget == 0.2  # the search's estimator is left alone


def test_params_choose_another_candidate(grid_search):
    worst = int(np.argmin(grid_search.cv_results_["mean_test_score"]))
    params = grid_search.cv_results_["params"][worst]
    assert params != grid_search.best_params_
    full = full_data_estimator(grid_search, params=params)
    assert _shallow(full) == _shallow(_expected(grid_search.estimator, params))


def test_trains_on_every_row_and_is_the_plain_net(small, grid_search):
    """No selection round, every epoch on all rows: the weights are those of the plain skorch
    net trained with the torch seed the classifier draws from its random_state."""
    X, y = small
    full = full_data_estimator(grid_search).fit(X, y)
    assert full.schedule_.warm_epochs == 4 and full.schedule_.subset_epochs == 0
    assert full.selection_history_ == [] and full.n_iter_ == 4
    assert full.subset_size_ == len(y)
    assert list(full.net_.history[:, "subset_size"]) == [len(y)] * 4
    seed = np.random.RandomState(0).randint(2**31 - 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        plain = clone(grid_search.estimator.net).set_params(**{
            k[len("net__"):]: v for k, v in grid_search.best_params_.items()}).initialize()
        plain.partial_fit(X, y.astype(np.int64), epochs=4)
    got, want = full.net_.module_.state_dict(), plain.module_.state_dict()
    assert got.keys() == want.keys()
    for key in got:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=0, msg=key)
    # the same random_state gives the same trained net
    again = full_data_estimator(grid_search).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), full.predict_proba(X))


def test_a_held_out_part_is_trained_on_too(small):
    X, y = small
    search = GridSearchCV(_clf(valid_size=0.25, budget=0.4), {"net__lr": [0.05, 0.1]}, cv=2,
                          refit=False).fit(X, y)
    full = full_data_estimator(search).fit(X, y)
    assert full.valid_size is None and full.subset_size_ == len(y)


def test_pipeline_steps_keep_their_chosen_parameters(small):
    X, y = small
    pipe = Pipeline([("scale", MinMaxScaler()), ("clf", _clf())])
    grid = {"scale__feature_range": [(0, 1), (-1, 1)], "clf__net__lr": [0.05, 0.2]}
    search = GridSearchCV(pipe, grid, cv=2, refit=False).fit(X, y)
    full = full_data_estimator(search)
    assert isinstance(full, Pipeline)
    assert full.named_steps["scale"].feature_range == search.best_params_["scale__feature_range"]
    assert full.named_steps["clf"].net.lr == search.best_params_["clf__net__lr"]
    assert full.named_steps["clf"].budget == 1.0 and full.named_steps["clf"].kappa == 1.0
    assert full.fit(X, y).named_steps["clf"].subset_size_ == len(y)


def test_estimators_in_the_grid_are_cloned_and_may_win(small):
    """A grid over Pipeline steps: the chosen step is a clone set to the full data (the
    search's own objects untouched), and a chosen step that trains no subsets is kept as is."""
    X, y = small
    wide = _clf().set_params(net__module__n_hidden=64)
    pipe = Pipeline([("scale", MinMaxScaler()), ("clf", _clf())])
    search = GridSearchCV(pipe, {"clf": [_clf(), wide]}, cv=2, refit=False).fit(X, y)
    for i, candidate in enumerate(search.cv_results_["params"]):
        full = full_data_estimator(search, params=candidate)
        step = full.named_steps["clf"]
        assert step is not candidate["clf"] and step.budget == 1.0
        assert candidate["clf"].budget == 0.2
        assert step.net.get_params().get("module__n_hidden") == (64 if i else None)
    lr_won = full_data_estimator(search, params={"clf": LogisticRegression(max_iter=200)})
    assert isinstance(lr_won.named_steps["clf"], LogisticRegression)
    assert lr_won.fit(X, y).score(X, y) > 0.9


def test_randomized_search(small):
    search = RandomizedSearchCV(_clf(), {"net__lr": loguniform(0.01, 0.3)}, n_iter=3, cv=2,
                                random_state=0, refit=False).fit(*small)
    full = full_data_estimator(search)
    assert full.net.lr == search.best_params_["net__lr"]
    assert full.net.lr in [p["net__lr"] for p in search.cv_results_["params"]]


@pytest.mark.parametrize("halving", [HalvingGridSearchCV, HalvingRandomSearchCV])
def test_halving_search_over_the_budget(small, halving):
    """The resource is part of best_params_ (an int budget); the full data replaces it."""
    space = {"net__lr": [0.02, 0.05, 0.1, 0.2]}
    kw = {"param_grid": space} if halving is HalvingGridSearchCV else {
        "param_distributions": space, "n_candidates": 4, "random_state": 0}
    search = halving(_clf(), resource="budget", factor=2, min_resources=40, max_resources=160,
                     cv=2, refit=False, **kw).fit(*small)
    assert search.best_params_["budget"] == 160
    full = full_data_estimator(search)
    assert full.budget == 1.0 and full.net.lr == search.best_params_["net__lr"]
    assert full.fit(*small).subset_size_ == len(small[1])


def test_an_estimator_trains_on_all_the_data_in_a_search(small):
    """full_data_estimator(estimator) is the full-data counterpart, e.g. for a reference search."""
    X, y = small
    clf = _clf()
    full = full_data_estimator(clf, params={"net__lr": 0.05})
    assert full.net.lr == 0.05 and clf.net.lr == 0.1 and clf.budget == 0.2
    search = GridSearchCV(full, {"net__lr": [0.05, 0.1]}, cv=2).fit(X, y)
    assert search.best_estimator_.schedule_.subset_epochs == 0
    bagging = full_data_estimator(BaggingClassifier(clf, n_estimators=2))
    assert bagging.estimator.budget == 1.0 and clf.budget == 0.2


def test_refused_without_a_subset_training_estimator(small):
    search = GridSearchCV(LogisticRegression(max_iter=50), {"C": [0.1, 1.0]}, cv=2,
                          refit=False).fit(*small)
    with pytest.raises(TypeError, match="holds no SubsetTrainingClassifier"):
        full_data_estimator(search)
    with pytest.raises(TypeError, match="holds no SubsetTrainingClassifier"):
        full_data_estimator(LogisticRegression())
    with pytest.raises(ValueError, match="'estimator' parameter"):
        full_data_estimator("not an estimator")


def test_refused_before_a_choice(small, grid_search):
    with pytest.raises(ValueError, match="is not fitted"):
        full_data_estimator(GridSearchCV(_clf(), GRID))
    multi = GridSearchCV(_clf(), {"net__lr": [0.05, 0.1]}, scoring=["accuracy", "f1_macro"],
                         cv=2, refit=False).fit(*small)
    with pytest.raises(ValueError, match=r"params=search.cv_results_\['params'\]\[i\]"):
        full_data_estimator(multi)
    full = full_data_estimator(multi, params=multi.cv_results_["params"][1])
    assert full.net.lr == 0.1
    with pytest.raises(ValueError, match="params do not fit the estimator"):
        full_data_estimator(grid_search, params={"net_lr": 0.1})


@pytest.fixture(scope="module")
def dask_client():
    """One worker thread: fits in threads of one process would share torch's global generator,
    which seeds them, so concurrent seeded fits would not train as one job does."""
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (pip install sksubset[dask])")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def test_a_search_on_dask_chooses_and_refits_as_one_job(dask_client, small, grid_search):
    X, y = small
    with parallel_backend("dask"):
        remote = GridSearchCV(_clf(), GRID, cv=2, refit=False, n_jobs=-1).fit(X, y)
        full = full_data_estimator(remote).fit(X, y)
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  grid_search.cv_results_["mean_test_score"])
    assert remote.best_params_ == grid_search.best_params_
    local = full_data_estimator(grid_search).fit(X, y)
    np.testing.assert_array_equal(full.predict_proba(X), local.predict_proba(X))
