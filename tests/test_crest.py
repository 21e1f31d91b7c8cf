"""Tests of CrestSelector: mini-batch coresets, quadratic model, adaptive trigger, dropping."""

import numpy as np
import pytest
import torch
from conftest import ToyMLP
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier
from sksubset.exceptions import DivergenceError
from sksubset.gradients import LastLayer
from sksubset.selectors import SelectionContext, get_selector
from sksubset.selectors._crest_coresets import subset_coresets
from sksubset.selectors._crest_model import QuadraticModel
from sksubset.selectors.crest import CrestSelector


# -- a last layer without a net -------------------------------------------------
class ToyLayer:
    """Logits ``Z = Hb W^T`` of fixed embeddings: a last layer whose parameters we move."""

    def __init__(self, n=200, n_hidden=5, n_classes=4, seed=0, y=None):
        g = torch.Generator().manual_seed(seed)
        self.y = (torch.arange(n) % n_classes) if y is None else torch.as_tensor(y)
        h = torch.randn(n, n_hidden, generator=g, dtype=torch.float64)
        self.Hb = torch.cat([torch.ones(n, 1, dtype=torch.float64), h], dim=1)
        self.W = 0.5 * torch.randn(n_classes, n_hidden + 1, generator=g, dtype=torch.float64)
        self.C = n_classes
        self.run_state = {}  # SelectionContext.run_state of this toy's run

    def train_fn(self, idx):
        idx = torch.arange(len(self.y)) if idx is None else torch.as_tensor(idx)
        Hb, y = self.Hb[idx], self.y[idx]
        Z = Hb @ self.W.T
        E = torch.softmax(Z, 1) - nn.functional.one_hot(y, self.C).to(Z)
        return LastLayer(E, Hb, Z, y)

    def params(self):
        return self.W.reshape(-1).clone()

    def context(self, budget=20, batch_size=10, epoch=0, seed=0):
        """A round's context; the rounds of one toy are one run (they share its run state)."""
        return SelectionContext(
            y=self.y.numpy(), n_classes=self.C, budget=budget, batch_size=batch_size,
            per_batch=False, rng=np.random.RandomState(seed), epoch=epoch,
            device=torch.device("cpu"), train_fn=self.train_fn, params_fn=self.params,
            run_state=self.run_state)

    def state(self, sel):
        """What ``sel`` keeps of this run (its ``RunState``)."""
        return self.run_state[("crest", id(sel))]

    def mean_loss(self, idx, W):
        Z = self.Hb[idx] @ W.T
        return nn.functional.cross_entropy(Z, self.y[idx])


def _chunks(sel):
    """Coresets of a standalone fit, aligned with its random subsets."""
    ends = np.cumsum(sel.coreset_sizes_)
    return np.split(sel.indices_, ends[:-1]), np.split(sel.weights_, ends[:-1])


# -- facility location / standalone fit -----------------------------------------
def test_coreset_of_a_subset_finds_blobs_per_class_and_counts_served_points():
    sizes = [5, 3, 2, 4, 4]
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [0.0, 0.0], [5.0, 5.0]],
                           dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    F = torch.cat([c + 0.1 * torch.randn(s, 2, generator=g, dtype=torch.float64)
                   for c, s in zip(centers, sizes)])
    blob = np.repeat(np.arange(5), sizes)
    y = np.repeat([0, 0, 0, 1, 1], sizes)    # class 0: three blobs, class 1: two
    idx, w = subset_coresets(F, [y], [5])[0]
    assert sorted(blob[idx]) == [0, 1, 2, 3, 4]     # one medoid per blob, never across classes
    assert dict(zip(blob[idx].tolist(), w.tolist())) == {0: 5, 1: 3, 2: 2, 3: 4, 4: 4}
    # fewer slots than classes: unserved classes go to the nearest medoid, weights still sum up
    idx, w = subset_coresets(F, [y], [1])[0]
    assert len(idx) == 1 and w.sum() == len(F)


def test_subset_coresets_of_many_subsets_equal_one_subset_at_a_time():
    rng = np.random.default_rng(3)
    lengths, sizes = [50, 47, 60, 5], [8, 3, 10, 2]   # 3 < 4 classes: unserved classes
    ys = [rng.integers(0, 4, size=m) for m in lengths]
    F = torch.as_tensor(rng.normal(size=(sum(lengths), 4)))
    starts = np.cumsum([0] + lengths[:-1])
    together = subset_coresets(F, ys, sizes)
    for start, m, y_sub, size, (idx, w) in zip(starts, lengths, ys, sizes, together):
        idx1, w1 = subset_coresets(F[start:start + m], [y_sub], [size])[0]
        assert np.array_equal(idx, idx1) and np.array_equal(w, w1)
        assert len(idx) == size and w.sum() == m


def test_fit_weights_count_random_subset_rows_rescaled_to_n_and_coresets_inside_them():
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=900, p=[0.6, 0.3, 0.1])
    G = rng.normal(size=(900, 4)) + y[:, None]
    sel = CrestSelector(budget=60, subset_fraction=0.1, batch_size=20, random_state=0).fit(G, y)
    assert len(sel.random_subsets_) == 3 and sel.coreset_sizes_ == [20, 20, 20]
    assert len(np.unique(sel.indices_)) == 60
    assert np.array_equal(sel.classes_, [0, 1, 2])
    idx_chunks, w_chunks = _chunks(sel)
    scale = 900 / 270  # random-subset rows served, rescaled to the 900 candidates
    assert sel.weights_.sum() == pytest.approx(900)
    for sub, idx, w in zip(sel.random_subsets_, idx_chunks, w_chunks):
        w = w / scale
        assert len(sub) == 90 and w.sum() == pytest.approx(len(sub))
        np.testing.assert_allclose(w, np.round(w))
        assert (w >= 1 - 1e-12).all()
        assert np.isin(idx, sub).all()
        # stratified: subsets follow the class proportions, coresets follow the subsets
        sub_counts = np.bincount(y[sub], minlength=3)
        assert np.abs(sub_counts - 90 * np.bincount(y, minlength=3) / 900).max() <= 1
        core_counts = np.bincount(y[idx], minlength=3)
        assert np.abs(core_counts - 20 * sub_counts / 90).max() <= 1
        # each class's weights sum to that class's share of the subset
        for c in range(3):
            assert w[y[idx] == c].sum() == pytest.approx(sub_counts[c])
    # random subsets of one fit are disjoint
    allrows = np.concatenate(sel.random_subsets_)
    assert len(np.unique(allrows)) == len(allrows)


def test_fit_without_labels_and_small_subsets():
    G = np.random.default_rng(1).normal(size=(300, 3))
    sel = CrestSelector(budget=0.1, batch_size=8, random_state=0).fit(G)
    # 1% of 300 rows is smaller than a coreset: the random subset grows to the coreset size
    assert sum(sel.coreset_sizes_) == 30 and len(sel.indices_) == 30
    assert sel.coreset_sizes_ == [8, 8, 7, 7]
    assert [len(s) for s in sel.random_subsets_] == [8, 8, 7, 7]
    np.testing.assert_allclose(sel.weights_, np.full(30, 10.0))  # one row each, of 300
    assert sel.transform(G).shape == (30, 3)


def test_fit_is_deterministic_given_random_state():
    rng = np.random.default_rng(2)
    G, y = rng.normal(size=(400, 5)), rng.integers(0, 4, size=400)
    a = CrestSelector(budget=40, subset_fraction=0.2, batch_size=10, random_state=3).fit(G, y)
    b = CrestSelector(budget=40, subset_fraction=0.2, batch_size=10, random_state=3).fit(G, y)
    c = CrestSelector(budget=40, subset_fraction=0.2, batch_size=10, random_state=4).fit(G, y)
    assert np.array_equal(a.indices_, b.indices_) and np.array_equal(a.weights_, b.weights_)
    assert not np.array_equal(a.indices_, c.indices_)


@pytest.mark.parametrize("params, match", [
    ({"budget": 0}, "budget"),
    ({"threshold": 0}, "threshold"),
    ({"subset_fraction": 1.5}, "subset_fraction"),
    ({"curvature": "exact"}, "curvature"),
    ({"drop_after": 0}, "drop_after"),
    ({"check_every": 0.5}, "check_every"),
    ({"loss_threshold": -1}, "loss_threshold"),
    ({"n_subsets": 0}, "n_subsets"),
    ({"check_fraction": 0}, "check_fraction"),
    ({"device": "nonsense"}, "device"),
])
def test_bad_parameters_name_the_parameter(params, match):
    G = np.ones((20, 2))
    with pytest.raises(ValueError, match=match):
        CrestSelector(**params).fit(G)


def test_bad_inputs():
    G = np.random.default_rng(0).normal(size=(20, 2))
    bad = G.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        CrestSelector(budget=5).fit(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        CrestSelector(budget=5).fit(bad)
    with pytest.raises(ValueError, match="2-D"):
        CrestSelector(budget=5).fit(G[:, 0])
    with pytest.raises(ValueError, match="y must have shape"):
        CrestSelector(budget=5).fit(G, np.zeros(7))
    with pytest.raises(ValueError, match="budget=50"):
        CrestSelector(budget=50).fit(G)
    with pytest.raises(TypeError, match="numeric"):
        CrestSelector(budget=5).fit([["a", "b"]])


# -- selection in a run ----------------------------------------------------------
def test_select_returns_weighted_union_of_coresets_from_random_subsets():
    toy = ToyLayer()
    sel = CrestSelector(subset_fraction=0.1, drop_learned=False)
    out = sel.select(toy.context(budget=30, batch_size=10))
    info = out.info
    assert info["n_random_subsets"] == 3 and info["random_subset_size"] == 20
    assert len(out.indices) == 30 and len(np.unique(out.indices)) == 30
    assert out.weights.sum() == pytest.approx(200)  # 3 x 20 rows served, rescaled to n
    np.testing.assert_allclose(out.weights * 60 / 200, np.round(out.weights * 60 / 200))
    st = toy.state(sel)
    assert np.isin(out.indices, st.random_idx).all()
    # the model is fitted on the check sample: the first random subset (5% of 200 < 20 rows)
    assert info["n_random_rows"] == 60 and info["n_check_rows"] == 20
    assert np.array_equal(st.check_idx, st.random_idx[:20])
    assert info["model_loss"] == pytest.approx(
        float(toy.mean_loss(torch.as_tensor(st.check_idx), toy.W)))
    assert 0 <= info["gradient_error"] < 1 and info["n_dropped"] == 0
    assert info["checks"] == []
    # same run generator => same selection
    again = CrestSelector(subset_fraction=0.1, drop_learned=False).select(
        toy.context(budget=30, batch_size=10))
    assert np.array_equal(out.indices, again.indices)
    assert np.array_equal(out.weights, again.weights)


def test_quadratic_model_matches_autograd_hessian_and_taylor_order():
    toy = ToyLayer(n=60, n_hidden=3, n_classes=3, seed=1)
    idx = torch.arange(0, 60, 2)
    model_full = QuadraticModel.fit(toy.train_fn(idx), toy.params(), "full")
    model_diag = QuadraticModel.fit(toy.train_fn(idx), toy.params(), "diagonal")
    W0 = toy.W.clone()
    f = lambda w: toy.mean_loss(idx, w.reshape(W0.shape))  # noqa: E731
    theta0 = W0.reshape(-1)
    g = torch.autograd.functional.jacobian(f, theta0)
    H = torch.autograd.functional.hessian(f, theta0)
    assert torch.allclose(model_full.grad, g, atol=1e-12)
    assert torch.allclose(model_diag.diag, torch.diagonal(H), atol=1e-12)
    d = torch.randn(theta0.shape, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    assert model_full.predict(theta0 + d) == pytest.approx(
        float(f(theta0) + g @ d + 0.5 * d @ H @ d), rel=1e-10)
    # value at theta0 is the stored loss; the full model is exact to second order
    assert model_full.predict(theta0) == model_full.loss0 == pytest.approx(float(f(theta0)))
    errors = [abs(model_full.predict(theta0 + e * d) - float(f(theta0 + e * d)))
              for e in (1e-2, 5e-3)]
    assert errors[0] < 1e-5 and 6 < errors[0] / errors[1] < 10  # O(eps^3)
    diag_errors = [abs(model_diag.predict(theta0 + e * d) - float(f(theta0 + e * d)))
                   for e in (1e-2, 5e-3)]
    assert 3 < diag_errors[0] / diag_errors[1] < 5  # first order exact, O(eps^2) left


@pytest.mark.parametrize("curvature", ["diagonal", "full"])
def test_check_fires_after_large_change_and_not_after_none(curvature):
    toy = ToyLayer()
    sel = CrestSelector(subset_fraction=0.1, curvature=curvature, drop_learned=False)
    sel.select(toy.context(epoch=3))
    assert sel.check(toy.context(epoch=4)) is None            # nothing moved
    assert toy.state(sel).checks[-1]["error"] == pytest.approx(0, abs=1e-12)
    toy.W *= 1.0 + 1e-4                                       # a tiny step: model holds
    assert sel.check(toy.context(epoch=5)) is None
    toy.W += 3.0 * torch.randn(toy.W.shape, generator=torch.Generator().manual_seed(5),
                               dtype=torch.float64)
    reason = sel.check(toy.context(epoch=6))
    assert reason.startswith("quadratic model error") and "> 0.1" in reason
    assert "3 epochs after selection" in reason
    nxt = sel.select(toy.context(epoch=6))
    assert [c["epoch"] for c in nxt.info["checks"]] == [4, 5, 6]
    assert sel.check(toy.context(epoch=7)) is None            # fresh model at the new point


@pytest.mark.parametrize("check_fraction, n_check", [(0.05, 20), (0.1, 20), (0.15, 40),
                                                   (0.3, 60), (1.0, 60)])
def test_checks_evaluate_the_check_sample_only(check_fraction, n_check):
    toy = ToyLayer()
    calls = []
    train_fn = toy.train_fn
    toy.train_fn = lambda idx: calls.append(None if idx is None else len(idx)) or train_fn(idx)
    sel = CrestSelector(subset_fraction=0.1, check_fraction=check_fraction, drop_learned=False)
    out = sel.select(toy.context(budget=30, batch_size=10))
    st = toy.state(sel)
    # the coresets still come from all three random subsets of 20 rows
    assert calls == [60] and out.weights.sum() == pytest.approx(200)
    assert out.info["n_check_rows"] == n_check and len(st.check_idx) == n_check
    assert np.array_equal(st.check_idx, st.random_idx[:n_check])
    assert sel.check(toy.context(epoch=1)) is None
    assert calls == [60, n_check]
    assert toy.state(sel).checks[-1]["loss"] == pytest.approx(out.info["model_loss"])


def test_check_every_skips_epochs():
    toy = ToyLayer()
    sel = CrestSelector(subset_fraction=0.1, check_every=2, drop_learned=False)
    sel.select(toy.context(epoch=0))
    toy.W += 5.0
    toy.W[:, 0] *= -3.0
    assert sel.check(toy.context(epoch=1)) is None and toy.state(sel).checks == []
    assert sel.check(toy.context(epoch=2)) is not None


def _learned_toy(n=200, C=4, learned=(0,)):
    """Embeddings ``onehot(y)`` plus a little noise (so that a class's rows are not all the
    same): class ``c`` has loss ~0 if learned, about log(C) otherwise."""
    toy = ToyLayer(n=n, n_hidden=C, n_classes=C)
    noise = torch.rand(n, C, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    toy.Hb[:, 1:] = nn.functional.one_hot(toy.y, C).to(torch.float64) + 0.05 * noise
    toy.W.zero_()
    for c in learned:
        toy.W[c, 1 + c] = 12.0
    return toy


def test_learned_examples_are_dropped_from_future_random_subsets():
    toy = _learned_toy()
    sel = CrestSelector(subset_fraction=0.1, drop_after=2, loss_threshold=0.1)
    first = sel.select(toy.context(budget=20, batch_size=10, epoch=0))
    drawn = toy.state(sel).random_idx.copy()         # observed once, at the selection
    seen = toy.state(sel).check_idx.copy()           # the check sample: observed again
    assert first.info["n_dropped"] == 0 and len(seen) < len(drawn)
    assert sel.check(toy.context(epoch=1)) is None    # second observation of `seen`
    second = sel.select(toy.context(budget=20, batch_size=10, epoch=1, seed=1))
    learned = seen[toy.y.numpy()[seen] == 0]
    st = toy.state(sel)
    once = np.setdiff1d(drawn, seen)
    assert (toy.y.numpy()[once] == 0).any() and not st.dropped[once].any()
    assert second.info["n_newly_dropped"] == second.info["n_dropped"] == len(learned) > 0
    assert np.array_equal(np.flatnonzero(st.dropped), np.sort(learned))
    assert not np.isin(st.random_idx, learned).any()
    assert second.info["n_active"] == 200 - len(learned)


def test_dropping_keeps_every_class_share_of_the_budget():
    toy = _learned_toy(learned=(0, 1, 2, 3))   # everything is learned
    y = toy.y.numpy()
    sel = CrestSelector(subset_fraction=0.2, drop_after=1)
    budget = 40
    for epoch in range(6):
        out = sel.select(toy.context(budget=budget, batch_size=10, epoch=epoch, seed=epoch))
        active = ~toy.state(sel).dropped
        assert active.sum() >= budget and len(out.indices) == budget
        assert all(active[y == c].sum() >= budget // 4 for c in range(4))
    assert out.info["n_dropped"] == 200 - budget


def test_non_finite_loss_is_reported():
    toy = ToyLayer()
    toy.W[0, 0] = float("nan")
    with pytest.raises(DivergenceError, match=r"loss on CREST's random subsets is nan at "
                                              r"epoch 0 \(selection\): training diverged"):
        CrestSelector(subset_fraction=0.1).select(toy.context())
    toy, sel = ToyLayer(), CrestSelector(subset_fraction=0.1)
    sel.select(toy.context())  # a model to check, then a check that meets a non-finite loss
    toy.W[0, 0] = float("inf")
    with pytest.raises(DivergenceError, match=r"epoch 1 \(check\)"):
        sel.check(toy.context(epoch=1))


def test_registry_and_clone():
    assert get_selector("crest") is CrestSelector
    assert CrestSelector.adaptive
    sel = clone(CrestSelector(threshold=0.2, curvature="full"))
    assert sel.threshold == 0.2 and sel.curvature == "full"


# -- end to end ------------------------------------------------------------------
def test_subset_training_with_crest_records_reasons(one_thread):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    net = NeuralNetClassifier(ToyMLP, module__n_in=64, module__n_hidden=32, module__n_classes=10,
                              criterion=nn.CrossEntropyLoss, max_epochs=8, lr=0.1,
                              batch_size=16, train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, selector="crest", budget=0.1, random_state=0,
                                   verbose=0).fit(X, y)
    history = clf.selection_history_
    assert history[0]["reason"] == "first" and history[0]["epoch"] == clf.schedule_.warm_epochs
    assert len(history) >= 2
    for rec in history[1:]:
        assert rec["reason"].startswith("quadratic model error")
        assert rec["checks"][-1]["epoch"] == rec["epoch"]
        assert rec["checks"][-1]["error"] > 0.1
    k = clf.subset_size_
    for rec in history:
        assert len(rec["indices"]) == k
        assert rec["weights"].sum() == pytest.approx(len(X))
        for key in ("model_loss", "n_dropped", "gradient_error"):
            assert key in rec
    assert clf.predict(X[:5]).shape == (5,)
    assert clf.score(X, y) > 0.8
