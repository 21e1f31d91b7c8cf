"""CraigSelector: greedy facility location on gradients, weighted by cluster sizes."""

import math

import numpy as np
import pytest
import torch
from conftest import ToyMLP, random_last_layer
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset._utils.budget import n_batches_for, split_budget
from sksubset.gradients import sample_gradients
from sksubset.selectors import CraigSelector, SelectionContext, get_selector

METRICS = ["euclidean", "sqeuclidean", "cosine"]


pytestmark = pytest.mark.usefixtures("one_thread")

def _context(ll, k, *, per_batch=False, batch_size=8, seed=0):
    return SelectionContext(y=ll.y.numpy(), n_classes=ll.E.shape[1], budget=k,
                            batch_size=batch_size, per_batch=per_batch,
                            rng=np.random.RandomState(seed), epoch=0,
                            device=torch.device("cpu"),
                            train_fn=lambda idx: ll if idx is None else ll[torch.as_tensor(idx)])

def test_clone_and_params():
    sel = CraigSelector(budget=5, metric="cosine", optimizer="stochastic", chunk_size=8)
    c = clone(sel)
    assert c.get_params() == sel.get_params() and c is not sel
    assert not hasattr(c, "indices_")


def test_registry():
    assert get_selector("craig") is CraigSelector

@pytest.mark.parametrize("seed", range(4))
def test_lazy_equals_naive(seed):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(300, 6)) + rng.normal(size=(5, 6)).repeat(60, axis=0)
    y = rng.integers(0, 3, size=300)
    for metric, chunk, dtype in [("euclidean", 64, "float32"), ("sqeuclidean", 7, "float64"),
                                 ("cosine", 500, "float64")]:
        kw = dict(budget=25, metric=metric, chunk_size=chunk, dtype=dtype)
        for y_ in (None, y):
            naive = CraigSelector(optimizer="naive", **kw).fit(G, y_)
            lazy = CraigSelector(optimizer="lazy", **kw).fit(G, y_)
            np.testing.assert_array_equal(lazy.indices_, naive.indices_)
            np.testing.assert_array_equal(lazy.weights_, naive.weights_)
            np.testing.assert_array_equal(lazy.assignments_, naive.assignments_)
            assert lazy.objective_ == naive.objective_
            if chunk < 100:  # a single block is always refreshed whole
                assert lazy.n_evaluations_ < naive.n_evaluations_


def test_stochastic_is_seeded_and_good():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(400, 5))
    kw = dict(budget=20, optimizer="stochastic", epsilon=0.1, per_class=False)
    a = CraigSelector(random_state=0, **kw).fit(G)
    b = CraigSelector(random_state=0, **kw).fit(G)
    c = CraigSelector(random_state=1, **kw).fit(G)
    np.testing.assert_array_equal(a.indices_, b.indices_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert not np.array_equal(a.indices_, c.indices_)
    naive = CraigSelector(budget=20, optimizer="naive", dtype="float64").fit(G)
    assert a.n_evaluations_ == 20 * math.ceil(400 / 20 * math.log(10))
    assert a.objective_ >= 0.95 * naive.objective_
    # a sample covering all candidates is the naive greedy
    full = CraigSelector(budget=20, optimizer="stochastic", epsilon=1e-12, dtype="float64",
                         random_state=0).fit(G)
    np.testing.assert_array_equal(full.indices_, naive.indices_)


def test_weights_count_served_points():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(120, 4))
    for per_class, y in [(False, None), (True, rng.integers(0, 4, size=120))]:
        sel = CraigSelector(budget=15, per_class=per_class, dtype="float64").fit(G, y)
        assert sel.indices_.dtype == np.int64 and len(np.unique(sel.indices_)) == 15
        assert sel.weights_.sum() == 120 and sel.weights_.min() >= 1
        np.testing.assert_array_equal(np.isin(sel.assignments_, sel.indices_), True)
        np.testing.assert_array_equal(
            sel.weights_, [np.sum(sel.assignments_ == i) for i in sel.indices_])
        np.testing.assert_array_equal(sel.assignments_[sel.indices_], sel.indices_)
        # each point is served by its nearest chosen point (of its class)
        Dmat = torch.cdist(torch.as_tensor(G), torch.as_tensor(G)).numpy()
        for i in range(120):
            pool = sel.indices_ if y is None else sel.indices_[y[sel.indices_] == y[i]]
            assert Dmat[i, sel.assignments_[i]] <= Dmat[i, pool].min() + 1e-9


def test_duplicates_still_get_weight_one():
    G = np.array([[0.0, 0.0]] * 3 + [[5.0, 5.0]])
    sel = CraigSelector(budget=4, per_class=False).fit(G)
    assert sorted(sel.indices_.tolist()) == [0, 1, 2, 3]
    assert sel.weights_.min() == 1 and sel.weights_.sum() == 4


def test_clusters_give_medoids_and_sizes():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    sizes = [40, 25, 20, 15]
    G = np.repeat(centers, sizes, axis=0) + rng.normal(scale=0.2, size=(100, 2))
    cluster = np.repeat(np.arange(4), sizes)
    for metric in METRICS[:2]:
        sel = CraigSelector(budget=4, metric=metric).fit(G)
        assert sorted(cluster[sel.indices_].tolist()) == [0, 1, 2, 3]
        np.testing.assert_array_equal(sel.weights_, np.array(sizes)[cluster[sel.indices_]])

def test_per_class_stays_within_classes():
    rng = np.random.default_rng(2)
    G = rng.normal(size=(90, 3))
    y = np.repeat(["a", "b", "c"], [50, 30, 10])
    sel = CraigSelector(budget=0.2).fit(G, y)
    np.testing.assert_array_equal(sel.classes_, ["a", "b", "c"])
    counts = [np.sum(y[sel.indices_] == c) for c in "abc"]
    assert counts == split_budget(18, [50, 30, 10]).tolist()
    np.testing.assert_array_equal(y[sel.assignments_], y)
    for c in "abc":
        assert sel.weights_[y[sel.indices_] == c].sum() == np.sum(y == c)
    # without y (or per_class=False), one problem over all rows
    assert not hasattr(CraigSelector(budget=5).fit(G), "classes_")


def test_tensor_input_and_transform():
    G = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sel = CraigSelector(budget=5).fit(G)
    assert sel.n_features_in_ == 4 and sel.n_samples_fit_ == 50
    out = sel.transform(G)
    assert isinstance(out, torch.Tensor) and out.shape == (5, 4)
    np.testing.assert_array_equal(sel.indices_,
                                  CraigSelector(budget=5).fit(G.numpy()).indices_)


def test_bad_input():
    G = np.random.default_rng(0).normal(size=(20, 3))
    bad = G.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        CraigSelector().fit(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        CraigSelector().fit(bad)
    with pytest.raises(ValueError, match="2-D"):
        CraigSelector().fit(G[0])
    with pytest.raises(ValueError, match="y must have shape"):
        CraigSelector().fit(G, np.zeros(5))
    with pytest.raises(ValueError, match="budget=21"):
        CraigSelector(budget=21).fit(G)
    for params, name in [({"metric": "manhattan"}, "metric"), ({"optimizer": "fast"}, "optimizer"),
                         ({"epsilon": 1.0}, "epsilon"), ({"chunk_size": 0}, "chunk_size"),
                         ({"dtype": "float16"}, "dtype"), ({"budget": -1}, "budget")]:
        with pytest.raises(InvalidParameterError, match=name):
            CraigSelector(**params).fit(G)
    with pytest.raises(ValueError, match="device='nope'"):
        CraigSelector(device="nope").fit(G)


@pytest.mark.parametrize("per_class", [True, False])
def test_select_matches_fit_on_explicit_gradients(per_class):
    ll = random_last_layer(n=80, seed=3)
    sel = CraigSelector(per_class=per_class, dtype="float64")
    out = sel.select(_context(ll, 12))
    ref = CraigSelector(budget=12, per_class=per_class, dtype="float64").fit(
        sample_gradients(ll.E, ll.Hb), ll.y.numpy() if per_class else None)
    np.testing.assert_array_equal(out.indices, ref.indices_)
    np.testing.assert_array_equal(out.weights, ref.weights_)
    assert out.indices.dtype == np.int64
    assert out.info["objective"] == pytest.approx(ref.objective_)
    assert 0 <= out.info["gradient_error"] < 1


def test_select_per_batch():
    ll = random_last_layer(n=100, seed=4)
    out = CraigSelector().select(_context(ll, 20, per_batch=True, batch_size=8, seed=1))
    nb = n_batches_for(20, 8)
    assert out.info["n_batches"] == nb
    assert len(out.indices) == 8 * nb and len(np.unique(out.indices)) == len(out.indices)
    # whole mini-batches of the same partition the context's generator draws
    perm = np.random.RandomState(1).permutation(100)
    batches = [set(perm[i:i + 8]) for i in range(0, 100, 8)]
    for s in range(0, len(out.indices), 8):
        chunk = set(out.indices[s:s + 8].tolist())
        assert chunk in batches
        assert len(set(out.weights[s:s + 8].tolist())) == 1
    # batch weights count batches served: they sum to the number of batches
    assert sum(out.weights[s] for s in range(0, len(out.indices), 8)) == len(batches)
    again = CraigSelector().select(_context(ll, 20, per_batch=True, batch_size=8, seed=1))
    np.testing.assert_array_equal(out.indices, again.indices)


@pytest.mark.parametrize("selector, per_batch", [("craig", True), ("craig", False),
                                                 (CraigSelector(optimizer="stochastic"), False)])
def test_end_to_end_digits(selector, per_batch):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    net = NeuralNetClassifier(ToyMLP, module__n_in=64, module__n_hidden=32, module__n_classes=10,
                              criterion=torch.nn.CrossEntropyLoss, max_epochs=6, lr=0.1,
                              train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, selector=selector, budget=0.1, R=2, per_batch=per_batch,
                                   random_state=0, verbose=0).fit(X, y)
    assert clf.predict(X).shape == y.shape and 0 <= clf.score(X, y) <= 1
    history = clf.selection_history_
    assert len(history) == len(clf.schedule_.selection_epochs) == 2
    for rec in history:
        assert rec["gradient_error"] is not None and "objective" in rec
        assert rec["weights"].min() >= 1
        if per_batch:
            assert rec["n_batches"] == n_batches_for(clf.subset_size_, net.batch_size)
        else:
            assert len(rec["indices"]) == clf.subset_size_
            assert rec["weights"].sum() == len(y)
            assert np.bincount(y[rec["indices"]], minlength=10).tolist() == split_budget(
                clf.subset_size_, np.bincount(y)).tolist()
    again = SubsetTrainingClassifier(net, selector=selector, budget=0.1, R=2,
                                     per_batch=per_batch, random_state=0, verbose=0).fit(X, y)
    for a, b in zip(history, again.selection_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    G = torch.randn(500, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = np.arange(500) % 3
    cpu = CraigSelector(budget=30, dtype="float64").fit(G, y)
    gpu = CraigSelector(budget=30, dtype="float64").fit(G.cuda(), y)
    np.testing.assert_array_equal(cpu.indices_, gpu.indices_)
    np.testing.assert_array_equal(cpu.weights_, gpu.weights_)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_all_zero_gradients_warn_and_share_the_rows_evenly(metric):
    """Identical rows: ties would give all but k-1 rows to the first medoid."""
    G = np.zeros((271, 5))
    with pytest.warns(UserWarning, match="rows of a problem are identical"):
        sel = CraigSelector(budget=10, metric=metric, per_class=False).fit(G)
    assert len(np.unique(sel.indices_)) == 10
    assert sorted(sel.weights_.tolist()) == [27.0] * 9 + [28.0]
    np.testing.assert_array_equal(np.bincount(sel.assignments_, minlength=271)[sel.indices_],
                                  sel.weights_)
