"""Contracts users rely on: the right diagnosis before training, nested selector parameters
with the default selector, typed divergence, and the smaller promises of the docs."""

import numpy as np
import pytest
import torch
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
from sksubset._training._checks import divergence_error
from sksubset.exceptions import DivergenceError
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


# -- the module's output against the criterion, before training -------------------------
@pytest.mark.parametrize("selector", ["gradmatch", "random", "craig"])
@pytest.mark.parametrize("lr", [1e-6, 0.1])
def test_nll_on_logits_is_named_before_training_at_any_lr(data, selector, lr):
    X, y, _ = data  # skorch's default criterion, NLLLoss, and a module ending in nn.Linear
    net = NeuralNetClassifier(mlp(), lr=lr, max_epochs=2, train_split=None, verbose=0,
                              callbacks=[NoTraining()])
    clf = SubsetTrainingClassifier(net, selector=selector, verbose=0)
    with pytest.raises(ValueError, match=r"NLLLoss \(skorch's default\), which takes "
                                         r"probabilities.*criterion=torch.nn.CrossEntropyLoss"
                                         r".*nn.Softmax") as info:
        clf.fit(X, y)
    assert "smaller learning rate" not in str(info.value)


def test_log_softmax_with_nll_is_named(data):
    X, y, _ = data
    net = NeuralNetClassifier(mlp(last=nn.LogSoftmax(dim=-1)), max_epochs=2, train_split=None,
                              verbose=0, callbacks=[NoTraining()])
    with pytest.raises(ValueError, match="NLLLoss.*not probabilities"):
        SubsetTrainingClassifier(net, verbose=0).fit(X, y)


@pytest.mark.parametrize("selector", ["gradmatch", "craig", "glister", "crest"])
def test_a_regressor_ending_in_sigmoid_is_refused_before_training(data, selector):
    X, _, t = data
    net = reg_net(mlp(1, last=nn.Sigmoid()), callbacks=[NoTraining()])
    reg = SubsetTrainingRegressor(net, selector=selector, verbose=0)
    with pytest.raises(ValueError, match=r"does not suit net.criterion=torch.nn.MSELoss.*not "
                                         r"the output of its last nn.Linear"):
        reg.fit(X, t)
    assert not hasattr(reg, "net_")


def test_random_subsets_read_no_gradients_so_any_module_trains(data):
    X, _, t = data  # documented: RandomSelector never reads the last layer
    reg = SubsetTrainingRegressor(reg_net(mlp(1, last=nn.Sigmoid())), selector="random",
                                  random_state=0, verbose=0).fit(X, t)
    assert reg.n_iter_ == 2


def test_targets_whose_loss_overflows_are_named(data):
    X, _, t = data
    reg = SubsetTrainingRegressor(reg_net(callbacks=[NoTraining()]), verbose=0)
    with pytest.raises(ValueError, match=r"y holds targets as large as 2.*e\+30.*overflows "
                                         r"float32.*standardize") as info:
        reg.fit(X, t * 1e30)
    assert "smaller learning rate" not in str(info.value)


def test_a_diverging_regressor_names_the_targets_scale(data):
    X, _, t = data
    reg = SubsetTrainingRegressor(reg_net(max_epochs=6), verbose=0)
    with pytest.raises(DivergenceError, match=r"targets on a smaller scale \(the largest \|y\| "
                                              r"is 2.*e\+1[0-9]\)"):
        reg.fit(X, t * 1e15)


class NanInTraining(nn.Module):
    """Fine in eval mode (fit's checks); NaN outputs in train mode."""

    def __init__(self):
        super().__init__()
        self.seq = mlp()

    def forward(self, X):
        out = self.seq(X)
        return out * float("nan") if self.training else out


@pytest.mark.parametrize("kappa,where", [(0.5, "warm start"), (0.0, "subset training")])
def test_a_loss_not_finite_before_any_step_advises_no_learning_rate(data, kappa, where):
    X, y, _ = data
    clf = SubsetTrainingClassifier(clf_net(NanInTraining()), kappa=kappa, selector="random",
                                   verbose=0)
    with pytest.raises(DivergenceError, match=rf"epoch 1 of .*{where}.*loss became nan on the "
                                              r"first mini-batch, before any optimizer step, so "
                                              r"no learning rate is the cause") as info:
        clf.fit(X, y)
    assert "smaller learning rate" not in str(info.value)


def test_divergence_error_hints():
    err = divergence_error("x", "the loss became nan", 0.5, y=torch.tensor([[1.0], [-4e9]]))
    assert str(err) == ("Training diverged in x: the loss became nan. Try a smaller learning "
                        "rate (net lr=0.5) or targets on a smaller scale (the largest |y| is "
                        "4e+09).")
    assert "targets" not in str(divergence_error("x", "y", 0.5, y=torch.tensor([3, 10**9])))
    err = divergence_error("x", "the loss became inf", 0.5, torch.tensor([[1e30]]),
                           before_step=True)
    assert str(err) == ("Training diverged in x: the loss became inf on the first mini-batch, "
                        "before any optimizer step, so no learning rate is the cause. Try inputs "
                        "on a smaller scale (the largest |X| is 1e+30) or a module whose output "
                        "suits the criterion.")
