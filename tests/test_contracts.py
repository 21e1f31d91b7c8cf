"""Contracts users rely on: the right diagnosis before training, nested selector parameters
with the default selector, typed divergence, and the smaller promises of the docs."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn

from sksubset import (
    GradMatchSelector,
    RandomSelector,
    SubsetTrainingClassifier,
    SubsetTrainingRegressor,
)
from sksubset.selectors import CraigSelector

pytestmark = pytest.mark.usefixtures("one_thread")


class NoTraining(Callback):
    """Fails the test if an epoch starts: the error must come before any training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("training started before the bad input was reported")


def mlp(n_out=3, n_in=5, last=None):
    layers = [nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, n_out)]
    return nn.Sequential(*layers, *([last] if last is not None else []))


def clf_net(module=None, **kwargs):
    params = dict(module=mlp() if module is None else module, criterion=nn.CrossEntropyLoss,
                  max_epochs=2, lr=0.05, batch_size=4, train_split=None, verbose=0)
    params.update(kwargs)
    return NeuralNetClassifier(**params)


def reg_net(module=None, **kwargs):
    params = dict(module=mlp(1) if module is None else module, max_epochs=2, lr=0.05,
                  batch_size=4, train_split=None, verbose=0)
    params.update(kwargs)
    return NeuralNetRegressor(**params)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    y = np.arange(60) % 3
    X[:, 0] += y
    return X, y, (X[:, 0] + 0.1 * X[:, 1]).astype(np.float32)


# -- nested selector parameters with the default selector ----------------------------------
@pytest.mark.parametrize("selector", [None, "gradmatch", "craig"])
def test_selector_params_with_a_default_or_a_name(selector):
    clf = SubsetTrainingClassifier(clf_net(), selector=selector)
    key, value = ("epsilon", 0.2) if selector == "craig" else ("lam", 0.1)
    assert clf.set_params(**{f"selector__{key}": value}) is clf
    expected = clf._selector_for(selector)
    assert type(clf.selector) is type(expected)
    params = clf.selector.get_params()
    assert params.pop(key) == value
    assert params == {k: v for k, v in expected.get_params().items() if k != key}
    cloned = clone(clf)
    assert getattr(cloned.selector, key) == value and cloned.selector is not clf.selector


def test_selector_params_follow_a_selector_given_in_the_same_call():
    clf = SubsetTrainingClassifier(clf_net()).set_params(selector="craig",
                                                          selector__epsilon=0.3)
    assert isinstance(clf.selector, CraigSelector) and clf.selector.epsilon == 0.3
    sel = GradMatchSelector(lam=2.0)
    clf.set_params(selector=sel, selector__lam=4.0)
    assert clf.selector is sel and sel.lam == 4.0


def test_a_parameter_the_selector_lacks_is_named():
    reg = SubsetTrainingRegressor(reg_net())  # default: RandomSelector, which has no lam
    with pytest.raises(ValueError, match="'lam'.*RandomSelector"):
        reg.set_params(selector__lam=0.1)
    with pytest.raises(ValueError, match="'selector'.*'gradmatch'.*'foo'"):
        SubsetTrainingClassifier(clf_net(), selector="foo").set_params(selector__lam=0.1)


def test_grid_search_over_the_default_selectors_parameters(data):
    X, y, t = data
    clf = SubsetTrainingClassifier(clf_net(), budget=0.3, R=1, random_state=0, verbose=0)
    search = GridSearchCV(clf, {"selector__lam": [0.1, 3.0]}, cv=2).fit(X, y)
    assert [p["selector__lam"] for p in search.cv_results_["params"]] == [0.1, 3.0]
    assert search.best_estimator_.selector.lam in (0.1, 3.0)
    assert clf.selector is None  # the search set its clones
    reg = SubsetTrainingRegressor(reg_net(), budget=0.3, R=1, random_state=0, verbose=0)
    search = GridSearchCV(reg, {"selector__sampling": ["independent", "cycle"]}, cv=2).fit(X, t)
    assert isinstance(search.best_estimator_.selector, RandomSelector)
    reg = SubsetTrainingRegressor(reg_net(), selector="gradmatch", budget=0.3, R=1,
                                  random_state=0, verbose=0)
    search = GridSearchCV(reg, {"selector__lam": [0.1, 3.0]}, cv=2).fit(X, t)
    assert search.best_estimator_.selector.lam in (0.1, 3.0)
