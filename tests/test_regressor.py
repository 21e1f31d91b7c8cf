"""Tests of SubsetTrainingRegressor: every selector through it, bad input, the sklearn contract."""

import pickle

import numpy as np
import pytest
import torch
from conftest import digits_net
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn
from torch.utils.data import TensorDataset

from sksubset import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
    SubsetTrainingClassifier,
    SubsetTrainingRegressor,
)


class NoTraining(Callback):
    """Fails the test if an epoch starts: the bad input must be refused before training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("training started")


class MLP(nn.Module):
    def __init__(self, n_in=10, n_hidden=16, n_out=1):
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, X):
        return self.seq(X)


def make_net(n_out=1, max_epochs=8, **kwargs):
    kwargs = {"lr": 0.05, "batch_size": 16, "train_split": None, "verbose": 0, **kwargs}
    return NeuralNetRegressor(MLP, module__n_out=n_out, max_epochs=max_epochs, **kwargs)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X[:160], ((y - y.mean()) / y.std())[:160]


def _fit(X, y, **kwargs):
    kwargs = {"budget": 0.25, "R": 2, "random_state": 0, "verbose": 0, **kwargs}
    net = kwargs.pop("net", None) or make_net(n_out=1 if y is None or y.ndim == 1 else y.shape[1])
    return SubsetTrainingRegressor(net, **kwargs).fit(X, y)


# -- every selector ---------------------------------------------------------------------
@pytest.mark.parametrize("selector,extra", [
    ("gradmatch", {}), ("gradmatch", {"per_batch": True}), ("gradmatch", {"valid_size": 0.2}),
    (CraigSelector(), {}), (CraigSelector(), {"per_batch": True}),
    (GlisterSelector(), {}), (GlisterSelector(), {"valid_size": 0.2}),
    (CrestSelector(subset_fraction=0.1), {}), (RandomSelector(), {}),
    (RandomSelector(sampling="cycle"), {"R": 1, "kappa": 0}),
], ids=["gradmatch", "gradmatch-pb", "gradmatch-valid", "craig", "craig-pb", "glister",
        "glister-valid", "crest", "random", "rs2"])
def test_every_selector_trains_a_regressor(diabetes, selector, extra):
    X, y = diabetes
    reg = _fit(X, y, selector=selector, **extra)
    assert reg.n_outputs_ == 1 and reg.predict(X).shape == (160,)
    assert np.isfinite(reg.score(X, y)) and reg.n_iter_ == reg.schedule_.n_trained
    for record in reg.selection_history_:
        assert 0 < len(record["indices"]) and np.all(np.asarray(record["weights"]) >= 0)
        if record.get("gradient_error") is not None:
            assert np.isfinite(record["gradient_error"])


def test_the_default_selector_is_random_gradmatch_by_name():
    """selector=None is RandomSelector() for a regressor (measured: docs/benchmarks.md,
    "Regression: Friedman #1"); "gradmatch" is the classifier's default GRAD-MATCH."""
    from sksubset.classifier import default_selector
    reg = SubsetTrainingRegressor(make_net(), verbose=0)
    assert type(reg._make_selector()) is RandomSelector
    assert reg._make_selector().get_params() == RandomSelector().get_params()
    reg.set_params(selector="gradmatch")
    assert reg._make_selector().get_params() == default_selector().get_params()
    assert default_selector(regression=True).get_params() == RandomSelector().get_params()


def test_gradmatch_rounds_read_the_harvest_and_match_the_gradient(diabetes):
    X, y = diabetes
    reg = _fit(X, y, selector="gradmatch", budget=0.2, R=1)
    # a pool of at least MIN_POOL rows (here all 160), all trained in the warm start's last epoch
    assert reg.selection_history_[0]["n_harvested"] == len(y) == 160
    assert reg.selection_history_[0]["n_forward"] == 0
    errors = [r["gradient_error"] for r in reg.selection_history_]
    assert max(errors) < 0.5


def test_multi_output_and_same_seed_same_run(diabetes):
    X, y = diabetes
    Y = np.stack([y, -2 * y + 1], 1)
    a, b = _fit(X, Y), _fit(X, Y)
    assert a.n_outputs_ == 2 and a.predict(X).shape == (160, 2)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    for ra, rb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rb["indices"])
    assert a.score(X, Y) > 0


def test_dataset_input(diabetes):
    X, y = diabetes
    ds = TensorDataset(torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float32)[:, None])
    reg = _fit(ds, None)
    arrays = _fit(X, y[:, None])
    assert reg.n_outputs_ == 1 and np.isfinite(reg.score(ds))
    assert reg.score(ds) == pytest.approx(arrays.score(X, y[:, None]), abs=1e-5)


# -- bad input: refused before training ------------------------------------------------
@pytest.mark.parametrize("case,error,match", [
    ("strings", ValueError, "real-valued targets.*SubsetTrainingClassifier"),
    ("nan", ValueError, "NaN"), ("inf", ValueError, "infinity|infinite"),
    ("too_many_columns", ValueError, r"one column per target column, \(n_samples, 3\)"),
    ("classifier_net", TypeError, "NeuralNetRegressor.*SubsetTrainingClassifier"),
    ("cross_entropy", ValueError, "MSELoss, torch.nn.L1Loss, torch.nn.SmoothL1Loss"),
    ("bce", ValueError, "MSELoss"), ("own_selector_budget", ValueError, "budget"),
])
def test_bad_input_is_refused_before_training(diabetes, case, error, match):
    X, y = diabetes
    net = make_net(callbacks=[NoTraining()])
    if case == "strings":
        y = np.where(y > 0, "high", "low")
    elif case in ("nan", "inf"):
        y = y.copy()
        y[4] = np.nan if case == "nan" else np.inf
    elif case == "too_many_columns":
        y = np.stack([y, y, y], 1)
    elif case == "classifier_net":
        net = digits_net()
    elif case == "cross_entropy":
        net.set_params(criterion=nn.CrossEntropyLoss)
    elif case == "bce":
        net.set_params(criterion=nn.BCEWithLogitsLoss)
    selector = GradMatchSelector(budget=5) if case == "own_selector_budget" else None
    reg = SubsetTrainingRegressor(net, selector=selector, budget=0.2, verbose=0)  # > a batch
    with pytest.raises(error, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "net_")


def test_the_classifier_refuses_a_regressor_net(diabetes):
    X, y = diabetes
    with pytest.raises(TypeError, match="NeuralNetClassifier.*SubsetTrainingRegressor"):
        SubsetTrainingClassifier(make_net(), verbose=0).fit(X, (y > 0).astype(int))


# -- sklearn integration -------------------------------------------------------------------
def test_shares_the_classifiers_parameters_and_defaults():
    reg, clf = SubsetTrainingRegressor(make_net()), SubsetTrainingClassifier(digits_net())
    assert {k: v for k, v in reg.get_params(deep=False).items() if k != "net"} == {
        k: v for k, v in clf.get_params(deep=False).items() if k != "net"}
    assert 'R : int >= 1 or "auto", default=' in SubsetTrainingRegressor.__doc__
    assert "%(" not in SubsetTrainingRegressor.__doc__ + SubsetTrainingClassifier.__doc__


def test_pipeline_clone_pickle_and_grid_search(diabetes):
    X, y = diabetes
    reg = SubsetTrainingRegressor(make_net(max_epochs=4), budget=0.25, random_state=0, verbose=0)
    cloned = clone(reg.set_params(net__lr=0.03))
    assert cloned.net.lr == 0.03 and cloned.net is not reg.net
    scores = cross_val_score(make_pipeline(StandardScaler(), reg), X, y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    search = GridSearchCV(reg, {"R": [1, 2], "kappa": [0, 0.5]}, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    fitted = search.best_estimator_
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict(X), fitted.predict(X))


# -- scikit-learn's common checks -----------------------------------------------------------
class AutoSizedNet(NeuralNetRegressor):
    """A net whose module is sized to the data at its first fit (for sklearn's checks)."""

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self


class LazyMLP(nn.Module):
    def __init__(self, n_hidden=16, n_out=1):
        super().__init__()
        self.n_out = n_out
        self.seq = nn.Sequential(nn.LazyLinear(n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, X):
        return self.seq(X)


#: checks the regressor fails, and why
EXPECTED_FAILURES = {
    "check_regressor_multioutput":
        "the net's last layer has a fixed width: a 1-output module cannot fit 5 targets "
        "(refused with a ValueError naming the width to set)",
}


def _checked_estimator():
    net = AutoSizedNet(LazyMLP, module__n_hidden=16, max_epochs=30, lr=0.05, batch_size=16,
                       optimizer=torch.optim.Adam, train_split=None, verbose=0)
    return SubsetTrainingRegressor(net, budget=0.5, R=5, kappa=0.5, random_state=0, verbose=0)


@parametrize_with_checks([_checked_estimator()],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
@pytest.mark.filterwarnings("ignore:Each subset holds:UserWarning")  # the checks' tiny data
@pytest.mark.filterwarnings("ignore:Lazy modules:UserWarning")
def test_sklearn_compatible(estimator, check):
    check(estimator)
