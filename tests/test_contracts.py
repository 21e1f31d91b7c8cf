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
from sksubset.selectors import CraigSelector, CrestSelector

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
    with pytest.raises(ValueError, match="selector RandomSelector has no 'lam'"):
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


# -- smaller promises -----------------------------------------------------------------
def test_valid_size_with_a_one_member_class_names_valid_size(data):
    X, y, _ = data
    y = y.copy()
    y[5] = 7  # class 7: one example
    clf = SubsetTrainingClassifier(clf_net(callbacks=[NoTraining()]), valid_size=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"valid_size=0.2 cannot hold out a part stratified by "
                                         r"class.*valid_size=None"):
        clf.fit(X, y)


def test_crest_shares_identical_rows_evenly_with_a_warning():
    G = np.zeros((200, 5))
    with pytest.warns(UserWarning, match=r"CREST: all rows of 2 of the 2 .*identical.*shared "
                                         r"out evenly"):
        sel = CrestSelector(budget=20, subset_fraction=0.2, batch_size=10,
                            random_state=0).fit(G)
    # two random subsets of 40 rows, a coreset of 10 each: 4 rows per medoid, times 200 / 80
    np.testing.assert_array_equal(sel.weights_, np.full(20, 10.0))
    y = np.arange(200) % 4
    with pytest.warns(UserWarning, match="CREST"):
        sel = CrestSelector(budget=20, subset_fraction=0.2, batch_size=10,
                            random_state=0).fit(G, y)
    assert sel.weights_.sum() == pytest.approx(200)
    for sub in sel.random_subsets_:
        for c in range(4):  # within a (subset, class) problem the weights differ by at most 1
            w = sel.weights_[np.isin(sel.indices_, sub) & (y[sel.indices_] == c)]
            assert len(w) and np.ptp(w) <= 200 / 80 + 1e-12  # one row, rescaled


@pytest.mark.parametrize("seed", range(4))
def test_crest_gives_a_one_member_class_its_slot(seed):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(200, 5))
    y = np.arange(200) % 3
    y[7] = 3
    sel = CrestSelector(budget=20, subset_fraction=0.05, batch_size=10, random_state=seed)
    sel.fit(G, y)
    assert (y[sel.indices_] == 3).sum() == 1 and len(sel.indices_) == 20
    assert sel.weights_.sum() == pytest.approx(200)


def test_crest_in_a_run_gives_every_class_a_slot(data):
    X, y, _ = data
    y = y.copy()
    y[np.flatnonzero(y == 2)[1:]] = 0  # class 2 keeps 1 of 60 examples
    clf = SubsetTrainingClassifier(clf_net(max_epochs=3), selector=CrestSelector(
        subset_fraction=0.1), budget=0.2, kappa=0, random_state=0, verbose=0).fit(X, y)
    for h in clf.selection_history_:
        assert set(y[h["indices"]]) == {0, 1, 2}


@pytest.mark.parametrize("shape", [(60,), (60, 1), (60, 2)])
def test_a_regressor_predicts_the_shape_of_y(data, shape):
    X, _, t = data
    y = np.stack([t, -t], 1)[:, :shape[1]] if len(shape) == 2 else t
    reg = SubsetTrainingRegressor(reg_net(mlp(y.shape[1] if y.ndim == 2 else 1)),
                                  random_state=0, verbose=0).fit(X, y)
    assert reg.predict(X).shape == shape
    assert reg.net_.predict(X).shape == (60, shape[1] if len(shape) == 2 else 1)
    assert np.isfinite(reg.score(X, y))


def test_what_the_docs_say_of_gradmatch_weights():
    G = np.random.default_rng(0).normal(size=(5000, 100)) + 0.5  # the README's example
    sel = GradMatchSelector(budget=0.05).fit(G)
    # the default ridge, 0.05 of these rows' mean squared norm (about 125), is 6.25
    assert len(np.unique(sel.indices_)) == 250 and sel.gradient_error_ < 2e-3
    assert 0.7 < sel.weights_.sum() / 5000 < 0.9  # fitted to the sum, not summing to n
    G = np.random.default_rng(0).normal(size=(200, 10)) + 1.0
    for k in (150, 200):
        sel = GradMatchSelector(budget=k).fit(G)
        assert len(np.unique(sel.indices_)) == k and (sel.weights_ >= 0).all()
    sel = CraigSelector(budget=3).fit(G[:100], np.arange(100) % 5)  # fewer slots than classes
    assert sel.weights_.sum() == 60  # the rows of the three classes served
