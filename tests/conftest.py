"""Shared tiny helpers for the test-suite.

Fixtures defined here (keep names prefixed ``toy_`` so that other helpers can be
added without clashes):

* ``toy_rng``           -- a seeded ``numpy.random.Generator``;
* ``toy_data``          -- a factory of seeded classification data ``(X, y)``;
* ``toy_mlp_factory``   -- a factory of small torch MLP modules (logits, softmax,
  dropout variants);
* ``toy_net_factory``   -- a factory of initialized ``skorch.NeuralNetClassifier``
  objects wrapping those MLPs.
"""

import numpy as np
import pytest
import torch
from torch import nn


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
    from skorch import NeuralNetClassifier

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
