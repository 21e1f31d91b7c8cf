"""Closed-form last-layer gradients of regression losses, against autograd.

The losses of ``sksubset/_regression.py`` (per example, gradient, curvature in the outputs),
``last_layer_gradients`` of a skorch ``NeuralNetRegressor``, the weighted regression losses of
subset training, and the selectors fitted on a regressor's ``LastLayer``.
"""

import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor
from torch import nn

from sksubset import last_layer_gradients
from sksubset._regression import RegressionLoss, regression_loss
from sksubset._training._loss import weighted_criterion
from sksubset.gradients import LastLayer
from sksubset.selectors import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
)

CRITERIA = {
    "mse": (nn.MSELoss, {}),
    "l1": (nn.L1Loss, {}),
    "smooth_l1": (nn.SmoothL1Loss, {"criterion__beta": 0.5}),
    "huber": (nn.HuberLoss, {"criterion__delta": 0.7}),
}


def _data(n=30, d=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, :d] * 2 + rng.normal(size=(n, d))).astype(np.float32)
    return X, y


def _net(d=1, criterion=nn.MSELoss, seed=0, **kwargs):
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, d))
    return NeuralNetRegressor(module, criterion=criterion, max_epochs=1, lr=0.05,
                              train_split=None, verbose=0, **kwargs)


def _autograd(net, X, y):
    """Per-example gradients of torch's own loss (one example, mean over outputs) in the
    last layer, in the documented layout (block c: bias c, then weight row c)."""
    layer = net.module_[-1]
    crit = net.criterion_
    rows = []
    for x, t in zip(torch.as_tensor(X), torch.as_tensor(y)):
        net.module_.zero_grad()
        out = net.module_(x[None])
        type(crit).forward(crit, out, t.reshape(out.shape)).backward()
        rows.append(torch.cat([layer.bias.grad[:, None], layer.weight.grad], 1).reshape(-1))
    return torch.stack(rows).double()


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("name", list(CRITERIA))
def test_last_layer_gradients_equal_autograd(name, d):
    criterion, options = CRITERIA[name]
    X, y = _data(d=d)
    net = _net(d, criterion, **options).fit(X, y)
    G = last_layer_gradients(net, X, y[:, 0] if d == 1 else y)
    assert G.shape == (30, d * 8) and G.loss == regression_loss(net.criterion_)
    np.testing.assert_array_equal(G.y.numpy(), 0)  # no classes: one group
    np.testing.assert_allclose(G.target.numpy(), y)
    torch.testing.assert_close(G.dense().double(), _autograd(net, X, y), atol=1e-5, rtol=1e-4)
    # the per-example losses, whose mean is torch's loss
    torch.testing.assert_close(G.losses().mean(), net.criterion_(torch.as_tensor(
        net.predict(X)), torch.as_tensor(y)), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("loss", [RegressionLoss("mse"), RegressionLoss("smooth_l1", 0.5),
                                  RegressionLoss("huber", 0.7), RegressionLoss("l1")])
def test_curvature_is_the_second_derivative(loss):
    g = torch.Generator().manual_seed(0)
    Z = torch.randn(8, 3, generator=g, dtype=torch.float64)
    T = torch.randn(8, 3, generator=g, dtype=torch.float64)
    for i in range(8):
        t = T[i:i + 1]
        H = torch.autograd.functional.hessian(lambda z, t=t: loss.losses(z[None], t)[0], Z[i])
        torch.testing.assert_close(torch.diag(H), loss.curvature(Z[i:i + 1], T[i:i + 1])[0])
        assert torch.count_nonzero(H - torch.diag(torch.diag(H))) == 0


def test_smooth_l1_with_beta_zero_is_l1_and_instances_keep_their_options():
    assert regression_loss(nn.SmoothL1Loss(beta=0.0)) == RegressionLoss("l1")
    assert regression_loss(nn.HuberLoss(delta=2.0)) == RegressionLoss("huber", 2.0)
    assert regression_loss(nn.CrossEntropyLoss) is None


def test_last_layer_gradients_refuse_bad_targets():
    X, y = _data(d=2)
    net = _net(2).fit(X, y)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        last_layer_gradients(net, X, y[:, 0])
    with pytest.raises(ValueError, match=r"real targets"):
        last_layer_gradients(net, X, np.zeros((30, 2), dtype=np.int64))
    bad = y.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        last_layer_gradients(net, X, bad)


@pytest.mark.parametrize("name", list(CRITERIA))
@pytest.mark.parametrize("weighting", ["batch", "subset", "none"])
def test_weighted_losses_with_unit_weights_are_torchs(name, weighting):
    criterion, options = CRITERIA[name]
    kwargs = {k.split("__")[1]: v for k, v in options.items()}
    ours = weighted_criterion(criterion, regression=True)(weighting=weighting, **kwargs)
    g = torch.Generator().manual_seed(1)
    Z, T = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    ones = torch.ones(6)
    torch.testing.assert_close(ours(Z, (T, ones, torch.arange(6))), criterion(**kwargs)(Z, T))
    w = torch.rand(6, generator=g)
    per_example = regression_loss(criterion(**kwargs)).losses(Z, T)
    expected = {"batch": (w * per_example).sum() / w.sum(),
                "subset": (w * per_example).mean(), "none": per_example.mean()}[weighting]
    torch.testing.assert_close(ours(Z, (T, w, torch.arange(6))), expected)


def test_a_regressors_criterion_must_have_a_closed_form():
    with pytest.raises(ValueError, match="MSELoss, torch.nn.L1Loss"):
        weighted_criterion(nn.BCEWithLogitsLoss, regression=True)
    with pytest.raises(ValueError, match="CrossEntropyLoss"):
        weighted_criterion(nn.MSELoss)  # a classifier's


# -- the selectors on a regressor's last-layer gradients ------------------------------
@pytest.fixture(scope="module")
def reg_gradients():
    X, y = _data(n=80, d=2, seed=3)
    net = _net(2, seed=3).fit(X, y)
    return last_layer_gradients(net, X, y), y


def test_gradmatch_on_factors_is_the_dense_one_group_problem(reg_gradients):
    G, y = reg_gradients
    exact = dict(criterion="gain", per_step=1)  # the exact search, as the solver tests
    sel = GradMatchSelector(budget=10, **exact).fit(G, y)  # per_class: one group, no classes
    dense = GradMatchSelector(budget=10, per_class=False, **exact).fit(G.dense().numpy())
    np.testing.assert_array_equal(sel.indices_, dense.indices_)
    np.testing.assert_allclose(sel.weights_, dense.weights_, rtol=1e-5)
    with pytest.raises(ValueError, match="targets the last-layer gradients"):
        GradMatchSelector(budget=10).fit(G, y + 1)


@pytest.mark.parametrize("selector", [CraigSelector(budget=10), RandomSelector(budget=10),
                                      CrestSelector(budget=10, batch_size=5,
                                                    subset_fraction=0.3)])
def test_other_selectors_fit_a_regressors_gradients(reg_gradients, selector):
    G, y = reg_gradients
    sel = selector.set_params(random_state=0).fit(G, y)
    assert len(sel.indices_) == 10 and len(np.unique(sel.indices_)) == 10
    np.testing.assert_allclose(sel.weights_.sum(), 80)


def test_glister_relinearizes_the_regressors_own_loss(reg_gradients):
    """With a hold-out, each pick maximizes the first-order decrease of the held-out squared
    loss at the outputs moved by the picks so far (brute force on the naive greedy)."""
    G, _ = reg_gradients
    train, valid = G[torch.arange(60)], G[torch.arange(60, 80)]
    eta = 0.05
    sel = GlisterSelector(budget=4, eta=eta, optimizer="naive", dtype="float64").fit(
        train, target=valid)
    chosen, Zv = [], valid.Z.double().clone()
    for _ in range(4):
        Ev = valid.loss.gradient(Zv, valid.target.double())
        M = Ev.T @ valid.Hb.double() / len(valid)
        gains = ((train.Hb.double() @ M.T) * train.E.double()).sum(1)
        gains[chosen] = -np.inf
        j = int(gains.argmax())
        chosen.append(j)
        Hj, Ej = train.Hb[j:j + 1].double(), train.E[j:j + 1].double()
        Zv = Zv - eta * (valid.Hb.double() @ Hj.T) @ Ej
    np.testing.assert_array_equal(sel.indices_, chosen)


def test_crest_models_the_squared_loss_exactly_in_the_last_layer(reg_gradients):
    """The squared loss is quadratic in the last layer: CREST's full model predicts it."""
    from sksubset.selectors._crest_model import QuadraticModel

    G, _ = reg_gradients
    G = LastLayer(G.E.double(), G.Hb.double(), G.Z.double(), G.y, G.target.double(), G.loss)
    theta0 = torch.zeros(G.shape[1], dtype=torch.float64)
    model = QuadraticModel.fit(G, theta0, "full")
    step = torch.randn(G.shape[1], generator=torch.Generator().manual_seed(0),
                       dtype=torch.float64) * 0.1
    Z_new = G.Z + G.Hb @ step.reshape(G.E.shape[1], -1).T
    assert model.predict(step) == pytest.approx(float(G.losses(Z_new).mean()), rel=1e-7)
    diagonal = QuadraticModel.fit(G, theta0, "diagonal")
    assert diagonal.predict(theta0) == pytest.approx(model.loss0)
