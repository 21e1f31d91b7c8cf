"""Shared tiny helpers for the test-suite.

Fixtures defined here (keep names prefixed ``toy_`` so that other helpers can be
added without clashes):

* ``toy_rng``           -- a seeded ``numpy.random.Generator``;
* ``toy_data``          -- a factory of seeded classification data ``(X, y)``;
* ``toy_mlp_factory``   -- a factory of small torch MLP modules (logits, softmax,
  dropout variants);
* ``toy_net_factory``   -- a factory of initialized ``skorch.NeuralNetClassifier``
  objects wrapping those MLPs;
* ``digits`` and ``small`` -- sklearn's digits scaled to [0, 1] (all of them, the first
  400), with :func:`digits_net` (an unfitted skorch net for them) and
  :class:`FixedSelector` (a selector returning the same rows every round), for the
  classifier's and the training run's tests.
"""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torch import nn

from sksubset.selectors import BaseSelector, Selection


class ToyMLP(nn.Module):
    """``in -> hidden -> ReLU -> [Dropout] -> n_classes`` (+ optional softmax)."""

    def __init__(self, n_in=6, n_hidden=5, n_classes=3, softmax=False, dropout=0.0):
        super().__init__()
        layers = [nn.Linear(n_in, n_hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(n_hidden, n_classes))
        if softmax:
            layers.append(nn.Softmax(dim=-1))
        self.seq = nn.Sequential(*layers)

    def forward(self, X):
        return self.seq(X)


def random_last_layer(n=60, C=4, H=5, seed=0, dtype=torch.float64):
    """Seeded last-layer quantities of ``n`` examples (softmax cross-entropy factors)."""
    from sksubset.gradients import LastLayer

    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, C, generator=g, dtype=dtype)
    y = torch.randint(0, C, (n,), generator=g)
    E = torch.softmax(Z, 1) - torch.nn.functional.one_hot(y, C).to(dtype)
    Hb = torch.cat([torch.ones(n, 1, dtype=dtype),
                    torch.relu(torch.randn(n, H, generator=g, dtype=dtype))], 1)
    return LastLayer(E, Hb, Z, y)


def _toy_data(n=40, n_features=6, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)).astype(np.float32)
    y = (np.arange(n) % n_classes).astype(np.int64)
    rng.shuffle(y)
    X += 0.5 * y[:, None].astype(np.float32)  # make the classes a bit separable
    return X, y


@pytest.fixture
def toy_rng():
    return np.random.default_rng(12345)


@pytest.fixture
def toy_data():
    """Factory: ``toy_data(n=40, n_features=6, n_classes=3, seed=0) -> (X, y)``."""
    return _toy_data


@pytest.fixture
def toy_mlp_factory():
    """Factory of :class:`ToyMLP` classes/instances (``toy_mlp_factory.cls``)."""

    def make(**kwargs):
        return ToyMLP(**kwargs)

    make.cls = ToyMLP
    return make


@pytest.fixture
def toy_net_factory():
    """Factory of initialized skorch nets on :class:`ToyMLP`.

    ``toy_net_factory(criterion=None, softmax=False, dropout=0.0, seed=0,
    n_in=6, n_hidden=5, n_classes=3, **net_kwargs)``: ``criterion=None``
    keeps skorch's default (``NLLLoss``).
    """
    def make(criterion=None, softmax=False, dropout=0.0, seed=0, n_in=6, n_hidden=5,
             n_classes=3, **net_kwargs):
        torch.manual_seed(seed)
        kwargs = dict(module=ToyMLP, module__n_in=n_in, module__n_hidden=n_hidden,
                      module__n_classes=n_classes, module__softmax=softmax,
                      module__dropout=dropout, max_epochs=1, batch_size=16, lr=0.1,
                      train_split=None, verbose=0)
        if criterion is not None:
            kwargs["criterion"] = criterion
        kwargs.update(net_kwargs)
        return NeuralNetClassifier(**kwargs).initialize()

    return make


@pytest.fixture
def no_min_pool(monkeypatch):
    """Pools of exactly ``pool_factor`` times a class's budget, with no floor of ``MIN_POOL``
    rows (which makes every pool of a small test set the whole class)."""
    import importlib

    monkeypatch.setattr(importlib.import_module("sksubset.selectors.gradmatch"), "MIN_POOL", 1)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (tiny nets train fastest that way), then restore."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def toy_gradients(toy_net_factory, toy_data):
    """Factory: ``toy_gradients(n=120, n_classes=3, seed=0) -> (net, X, y, G)``.

    A toy net trained one epoch on ``n`` rows and ``G =
    last_layer_gradients(net, X, y)``, its factored last-layer gradients.
    """
    from sksubset.gradients import last_layer_gradients

    def make(n=120, n_classes=3, seed=0, **net_kwargs):
        X, y = toy_data(n=n, n_features=6, n_classes=n_classes, seed=seed)
        net = toy_net_factory(seed=seed, n_classes=n_classes, n_hidden=7,
                              criterion=nn.CrossEntropyLoss, **net_kwargs)
        net.partial_fit(X, y)
        return net, X, y, last_layer_gradients(net, X, y)

    return make


# -- digits, for the classifier and the training run ---------------------------------
class DigitsMLP(nn.Module):
    """Tiny MLP; ``n_in=None`` infers the input size at the first forward."""

    def __init__(self, n_in=64, n_hidden=32, n_out=10, softmax=False):
        super().__init__()
        first = nn.LazyLinear(n_hidden) if n_in is None else nn.Linear(n_in, n_hidden)
        layers = [nn.Flatten(), first, nn.ReLU(), nn.Linear(n_hidden, n_out)]
        if softmax:
            layers.append(nn.Softmax(dim=-1))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def digits_net(max_epochs=6, softmax=False, **kwargs):
    """An unfitted skorch net for digits (SGD with momentum, batches of 32, no split)."""
    params = dict(module=DigitsMLP, module__softmax=softmax, max_epochs=max_epochs, lr=0.1,
                  optimizer__momentum=0.9, batch_size=32, train_split=None, verbose=0,
                  criterion=nn.NLLLoss if softmax else nn.CrossEntropyLoss)
    params.update(kwargs)
    return NeuralNetClassifier(**params)


class FixedSelector(BaseSelector):
    """Returns the same rows and weights every round (a test double)."""

    def __init__(self, indices=(0, 1, 2), weights=(1.0, 2.0, 5.0)):
        self.indices = indices
        self.weights = weights

    def select(self, context):
        return Selection(np.asarray(self.indices), np.asarray(self.weights, dtype=float), {})


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:400], y[:400]


# -- run records of the experiment runner, hand-made (test_report, test_plots) ----------
def rec(strategy, seed, acc, seconds, budget=None, epochs=None, kind=None, gradients=0.0,
        solver=0.0):
    kind = kind or (strategy if strategy.startswith("full") else "subset")
    return {"strategy": strategy, "kind": kind, "budget": budget, "epochs": epochs, "seed": seed,
            "test_accuracy": acc, "fit_seconds": seconds, "energy_kwh": None,
            "timing": {"gradients": gradients, "solver": solver, "total": seconds},
            "n_selections": 2 if kind == "subset" else 0, "mean_gradient_error": None,
            "full_epoch_equivalents": epochs or 1.0}


@pytest.fixture
def records():
    """Three seeds of every kind of run: full, frontier, random, random-warm, gradmatch."""
    out = []
    for s in range(3):
        out += [rec("full", s, 0.90, 10.0, epochs=10),
                rec("full-frontier", s, 0.70, 2.0, epochs=2),
                rec("full-frontier", s, 0.80, 5.0, epochs=5),
                rec("random", s, 0.60 + 0.01 * s, 3.0, budget=0.1),
                rec("random-warm", s, 0.85 - 0.01 * s, 3.0, budget=0.1),
                rec("gradmatch", s, 0.80, 3.5, budget=0.1, gradients=0.5, solver=0.2),
                rec("gradmatch", s, 0.95, 1.0, budget=0.3)]  # faster than the whole frontier
    return out
