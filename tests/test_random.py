"""RandomSelector: uniform subsets, standalone and inside a training run."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import ToyMLP
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset.selectors import SelectionContext, get_selector
from sksubset.selectors.random import RandomSelector

pytestmark = pytest.mark.usefixtures("one_thread")


def _context(n=50, k=7, seed=0):
    def boom(idx):  # RANDOM must never ask for gradients
        raise AssertionError("RandomSelector asked for last-layer gradients")

    return SelectionContext(y=np.arange(n) % 3, n_classes=3, budget=k, batch_size=8,
                            per_batch=True, rng=np.random.RandomState(seed), epoch=0,
                            device=torch.device("cpu"), train_fn=boom, valid_fn=boom)


def test_clone_and_params():
    sel = RandomSelector(budget=5, random_state=2)
    c = clone(sel)
    assert c.get_params() == sel.get_params() and c is not sel
    assert not hasattr(c, "indices_")


def test_registry_and_flags():
    assert get_selector("random") is RandomSelector
    assert RandomSelector.adaptive is False


def test_fit_uniform_subset_without_replacement():
    X = np.random.default_rng(0).normal(size=(100, 3))
    sel = RandomSelector(budget=0.25, random_state=0).fit(X)
    assert sel.indices_.dtype == np.int64
    assert len(sel.indices_) == 25 == len(np.unique(sel.indices_))
    assert np.all(np.diff(sel.indices_) > 0) and sel.indices_.max() < 100
    np.testing.assert_array_equal(sel.weights_, np.full(25, 4.0))  # n / k each
    assert sel.n_features_in_ == 3 and sel.n_samples_fit_ == 100
    np.testing.assert_array_equal(sel.transform(X), X[sel.indices_])
    assert RandomSelector(budget=100).fit(X).indices_.tolist() == list(range(100))


def test_fit_is_seeded():
    X = np.zeros((200, 2))
    a = RandomSelector(budget=20, random_state=3).fit(X).indices_
    b = RandomSelector(budget=20, random_state=3).fit(X).indices_
    c = RandomSelector(budget=20, random_state=4).fit(X).indices_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_is_roughly_uniform():
    X = np.zeros((10, 1))
    counts = np.zeros(10)
    for seed in range(400):
        counts[RandomSelector(budget=3, random_state=seed).fit(X).indices_] += 1
    # each row is expected 120 times; a 6-sigma band
    assert np.all(np.abs(counts - 120) < 6 * np.sqrt(120 * 0.7))


def test_only_rows_matter():
    X = np.full((10, 2), np.nan)
    X[0, 0] = np.inf
    assert len(RandomSelector(budget=4, random_state=0).fit(X).indices_) == 4
    assert len(RandomSelector(budget=4).fit(np.array([["a", "b"]] * 6, dtype=object)).indices_) == 4
    assert len(RandomSelector(budget=2).fit(sp.random(8, 5, format="csr")).indices_) == 2
    t = torch.zeros(12, 4)
    sel = RandomSelector(budget=3, random_state=0).fit(t)
    out = sel.transform(t)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 4)


@pytest.mark.parametrize("X, match", [
    (np.zeros(5), "2D"),
    (np.zeros((0, 3)), "0 sample"),
    (torch.zeros(5), "2-D"),
    (torch.zeros(0, 2), "at least one row"),
])
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        RandomSelector().fit(X)


def test_bad_params():
    X = np.zeros((10, 2))
    with pytest.raises(InvalidParameterError, match="budget"):
        RandomSelector(budget=1.5).fit(X)
    with pytest.raises(InvalidParameterError, match="budget"):
        RandomSelector(budget=0).fit(X)
    with pytest.raises(ValueError, match="budget=11"):
        RandomSelector(budget=11).fit(X)
    with pytest.raises(InvalidParameterError, match="random_state"):
        RandomSelector(random_state="x").fit(X)
    with pytest.raises(ValueError, match="y has 3 entries"):
        RandomSelector().fit(X, np.zeros(3))
    with pytest.raises(ValueError, match="rows"):
        RandomSelector(budget=2).fit(X).transform(np.zeros((9, 2)))


def test_select_uses_context_rng_and_no_gradients():
    s1 = RandomSelector().select(_context(seed=5))
    s2 = RandomSelector().select(_context(seed=5))
    np.testing.assert_array_equal(s1.indices, s2.indices)
    assert s1.indices.dtype == np.int64 and len(s1.indices) == 7 == len(np.unique(s1.indices))
    np.testing.assert_array_equal(s1.weights, np.full(7, 50 / 7))  # n / k each
    ctx = _context(seed=5)
    first = RandomSelector().select(ctx).indices
    second = RandomSelector().select(ctx).indices  # the generator advanced
    assert not np.array_equal(first, second)
    # the selector's own random_state does not override the run's generator
    s3 = RandomSelector(random_state=123).select(_context(seed=5))
    np.testing.assert_array_equal(s1.indices, s3.indices)


@pytest.mark.parametrize("selector", ["random", RandomSelector()])
def test_end_to_end_digits(selector):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    net = NeuralNetClassifier(ToyMLP, module__n_in=64, module__n_hidden=32, module__n_classes=10,
                              criterion=torch.nn.CrossEntropyLoss, max_epochs=6, lr=0.1,
                              train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, selector=selector, budget=0.1, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.predict(X).shape == y.shape and 0 <= clf.score(X, y) <= 1
    history = clf.selection_history_
    assert len(history) == len(clf.schedule_.selection_epochs) == 2
    for rec, epoch in zip(history, clf.schedule_.selection_epochs):
        assert rec["epoch"] == epoch
        assert len(rec["indices"]) == clf.subset_size_ == 180  # the classifier's budget wins
        assert rec["gradient_seconds"] == 0.0
        np.testing.assert_allclose(rec["weights"], len(y) / 180)  # n / k each
    assert not np.array_equal(history[0]["indices"], history[1]["indices"])
    again = SubsetTrainingClassifier(net, selector=selector, budget=0.1, R=2, random_state=0,
                                     verbose=0).fit(X, y)
    for a, b in zip(history, again.selection_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])


def test_rs2_rounds_cycle_through_the_data():
    """sampling="cycle": rounds of a run partition the data (k divides n), every example once
    per cycle, and the same seed gives the same rounds."""
    def rounds(seed, m):
        ctx, sel = _context(n=42, k=7, seed=seed), RandomSelector(sampling="cycle")
        return [sel.select(ctx) for _ in range(m)]

    out = rounds(0, 12)
    for cycle in (out[:6], out[6:]):
        np.testing.assert_array_equal(np.sort(np.concatenate([s.indices for s in cycle])),
                                      np.arange(42))
    assert all(len(np.unique(s.indices)) == 7 and (s.weights == 6).all() for s in out)
    assert [s.info["cycle"] for s in out] == [0] * 6 + [1] * 6
    for a, b in zip(out, rounds(0, 12)):
        np.testing.assert_array_equal(a.indices, b.indices)
    assert any(not np.array_equal(a.indices, b.indices) for a, b in zip(out, rounds(1, 12)))


def test_rs2_in_a_training_run():
    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16).astype(np.float32), y[:300]
    net = NeuralNetClassifier(ToyMLP, module__n_in=64, module__n_hidden=8, module__n_classes=10,
                              criterion=torch.nn.CrossEntropyLoss, max_epochs=5, lr=0.1,
                              batch_size=16, train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, selector=RandomSelector(sampling="cycle"), budget=0.2,
                                   R=1, kappa=0, random_state=0, verbose=0).fit(X, y)
    picks = [rec["indices"] for rec in clf.selection_history_]
    assert len(picks) == 5  # one round per epoch; 5 rounds of 60 cover the 300 rows once
    np.testing.assert_array_equal(np.sort(np.concatenate(picks)), np.arange(300))
    again = SubsetTrainingClassifier(net, selector=RandomSelector(sampling="cycle"), budget=0.2,
                                     R=1, kappa=0, random_state=0, verbose=0).fit(X, y)
    for a, b in zip(picks, again.selection_history_):
        np.testing.assert_array_equal(a, b["indices"])


def test_bad_sampling():
    with pytest.raises(InvalidParameterError, match="sampling"):
        RandomSelector(sampling="rs2").fit(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="sampling must be"):
        RandomSelector(sampling="rs2").select(_context())
