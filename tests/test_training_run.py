"""Tests of :mod:`sksubset._training._run`: Algorithm 1 inside skorch's loop, through ``fit``.

The schedule is the only source of warm and selection epochs; an adaptive selector decides
between its rounds; each subset epoch trains on the selected rows with their weights; learning-
rate schedulers, history and divergence checks see one continuous run.
"""

import math
import re
import warnings

import numpy as np
import pytest
import torch
from conftest import FixedSelector
from conftest import digits_net as make_net
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from torch import nn

from sksubset import CrestSelector, GradMatchSelector, RandomSelector, SubsetTrainingClassifier
from sksubset._training._skorch import SubsetSchedule
from sksubset.exceptions import DivergenceError
from sksubset.experiments.datasets import load_dataset
from sksubset.experiments.models import make_net as make_runner_net
from sksubset.experiments.models import module_kwargs

#: the default selector with every example a candidate each round (no pool)
EVERY = GradMatchSelector(criterion="correlation", per_step="auto")

pytestmark = pytest.mark.usefixtures("one_thread")


# -- the schedule -------------------------------------------------------------
@pytest.mark.parametrize("kappa,R,epochs", [(0.0, 2, 6), (0.5, 3, 12), (1.0, 2, 5), (0.5, 20, 40)])
def test_epochs_and_selections_follow_schedule(small, kappa, R, epochs):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=epochs), budget=0.25, R=R, kappa=kappa,
                                   random_state=0, verbose=0).fit(X, y)
    s = clf.schedule_
    assert s.n_epochs == epochs
    assert s.skipped_epochs + s.warm_epochs == math.floor(kappa * epochs)
    assert s.subset_epochs == epochs - math.floor(kappa * epochs)
    assert s.warm_epochs == math.ceil(math.floor(kappa * epochs) * 100 / 400)
    phases = clf.net_.history[:, "phase"]
    assert phases == ["warm"] * s.warm_epochs + ["subset"] * s.subset_epochs
    assert clf.n_iter_ == len(phases) == s.n_trained
    assert [r["epoch"] for r in clf.selection_history_] == list(s.selection_epochs)
    reasons = [r["reason"] for r in clf.selection_history_]
    assert reasons == (["first"] + ["schedule"] * (len(reasons) - 1) if s.subset_epochs else [])
    sizes = clf.net_.history[:, "subset_size"]
    assert sizes[:s.warm_epochs] == [400] * s.warm_epochs
    assert sizes[s.warm_epochs:] == [100] * s.subset_epochs
    # each epoch trains on exactly the rows of its subset
    batches = clf.net_.history[:, "train_batch_count"]
    assert batches == [math.ceil(sz / 32) for sz in sizes]


def test_lr_schedule_runs_over_the_epoch_budget(small):
    """Cosine over T: warm epochs at t = 0.., subset epochs at t = floor(kappa T).. T - 1."""
    X, y = small
    T, lr = 20, 0.1
    cb = LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=T,
                     event_name="event_lr")
    net = make_net(max_epochs=T, lr=lr, callbacks=[("lr", cb)])
    clf = SubsetTrainingClassifier(net, budget=0.25, R=5, kappa=0.5, random_state=0,
                                   verbose=0).fit(X, y)
    s = clf.schedule_
    virtual = list(range(s.warm_epochs)) + list(range(T - s.subset_epochs, T))
    expected = [lr * (1 + math.cos(math.pi * t / T)) / 2 for t in virtual]
    np.testing.assert_allclose(clf.net_.history[:, "event_lr"], expected, rtol=1e-6)




# -- adaptive selectors, the callback -----------------------------------------------
class Adaptive(FixedSelector):
    """Asks for a new round at the subset epochs listed in ``at`` (an adaptive double)."""

    adaptive = True

    def __init__(self, indices=(0, 1, 2), weights=(1.0, 2.0, 5.0), at=()):
        super().__init__(indices, weights)
        self.at = at

    def check(self, context):
        return "drift" if context.epoch in self.at else None


def test_an_adaptive_selector_decides_between_its_rounds(small):
    X, y = small  # T = 10, kappa = 0.5, 25%: 2 warm epochs, subset epochs 2..6
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), selector=Adaptive(at=(3, 6)),
                                   budget=0.25, R=2, random_state=0, verbose=0).fit(X, y)
    assert clf.schedule_.warm_epochs == 2 and clf.schedule_.selection_epochs == (2, 4, 6)
    records = [(r["epoch"], r["reason"]) for r in clf.selection_history_]
    assert records == [(2, "first"), (3, "drift"), (6, "drift")]  # not the schedule's 4


def test_the_callback_is_disarmed_after_fit_even_when_it_fails(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=4), budget=0.25, R=1, random_state=0,
                                   verbose=0).fit(X, y)
    callbacks = [cb for _, cb in clf.net_.callbacks_ if isinstance(cb, SubsetSchedule)]
    assert len(callbacks) == 1 and callbacks[0].run is None
    failing = SubsetTrainingClassifier(make_net(max_epochs=4, lr=1e30), budget=0.25,
                                       verbose=0)
    with pytest.raises(DivergenceError):
        failing.fit(X, y)


# -- weighted training ------------------------------------------------------------
@pytest.mark.parametrize("class_weight", [None, [1.0, 3.0, 0.5]], ids=["plain", "class_weight"])
def test_weighted_loss_is_exact(class_weight):
    """One SGD step on the subset equals the step on ``sum_i w_i l_i / sum_i w_i m_i``, with
    ``m_i`` the class weight of example i's label (``criterion__weight``), 1 without."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    y = np.arange(30) % 3
    module = nn.Linear(4, 3)
    W0, b0 = module.weight.detach().clone(), module.bias.detach().clone()
    net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, max_epochs=1, lr=0.5,
                              batch_size=64, train_split=None, verbose=0)
    if class_weight is not None:
        net.set_params(criterion__weight=torch.tensor(class_weight))
    idx, w = [3, 7, 20, 21], [0.5, 1.0, 2.0, 4.5]
    # random_state=None: the module instance keeps its weights W0 (a seed would re-draw them)
    clf = SubsetTrainingClassifier(net, selector=FixedSelector(idx, w), kappa=0, R=1,
                                   random_state=None, verbose=0).fit(X, y)
    ref = nn.Linear(4, 3)
    with torch.no_grad():
        ref.weight.copy_(W0)
        ref.bias.copy_(b0)
    target = torch.from_numpy(y[idx])
    m = torch.ones(len(idx)) if class_weight is None else torch.tensor(class_weight)[target]
    losses = nn.functional.cross_entropy(ref(torch.from_numpy(X[idx])), target, reduction="none")
    (torch.tensor(w) * m * losses).sum().div((torch.tensor(w) * m).sum()).backward()
    with torch.no_grad():
        expected_W = W0 - 0.5 * ref.weight.grad
        expected_b = b0 - 0.5 * ref.bias.grad
    torch.testing.assert_close(clf.net_.module_.weight.detach(), expected_W)
    torch.testing.assert_close(clf.net_.module_.bias.detach(), expected_b)
    np.testing.assert_array_equal(clf.selection_history_[0]["indices"], idx)
    if class_weight is not None:
        torch.testing.assert_close(clf.net_.criterion_.weight, torch.tensor(class_weight))


# -- weighting -----------------------------------------------------------------
def _trained_params(X, y, idx, weights, weighting):
    net = make_net(max_epochs=3, batch_size=8, lr=0.05)
    clf = SubsetTrainingClassifier(net, selector=FixedSelector(idx, weights), kappa=0, R=1,
                                   weighting=weighting, random_state=0, verbose=0).fit(X, y)
    return [p.detach().clone() for p in clf.net_.module_.parameters()]


@pytest.fixture(scope="module")
def fixed_subset(small):
    rng = np.random.default_rng(0)
    return rng.choice(len(small[1]), 40, replace=False), rng.uniform(0.1, 10.0, 40)


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a, b))


def test_batch_weighting_is_scale_invariant_and_differs_from_subset(small, fixed_subset):
    X, y = small
    idx, w = fixed_subset
    ref = _trained_params(X, y, idx, w, "batch")
    for c in (1e-3, 3.7, 1e4):
        assert _same(_trained_params(X, y, idx, w * c, "batch"), ref)
    # the per-batch normalization changes the steps: mini-batches draw different weight sums
    assert not _same(_trained_params(X, y, idx, w, "subset"), ref)


def test_no_weighting_is_unweighted_training_on_the_same_subsets(small, fixed_subset):
    X, y = small
    idx, w = fixed_subset
    ones = np.ones_like(w)
    got = _trained_params(X, y, idx, w, "none")
    assert _same(got, _trained_params(X, y, idx, ones, "subset"))
    assert _same(got, _trained_params(X, y, idx, ones, "batch"))
    assert not _same(got, _trained_params(X, y, idx, w, "subset"))


def test_weighting_reaches_the_criterion(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=2), weighting="none", verbose=0).fit(X, y)
    assert clf.net_.criterion_.weighting == "none"
    assert SubsetTrainingClassifier(make_net()).weighting == "batch"


@pytest.mark.parametrize("kappa", [0.0, 0.5])
def test_large_learning_rate_does_not_collapse_under_the_default(kappa):
    """The runner's digits set-up (70/30 split, 64-128-10 MLP, SGD momentum 0.9, weight decay
    5e-4, batch 32) at a constant lr of 0.1, T = 30, R = 5, 10%, per-class GRAD-MATCH: no seed
    collapses (docs/benchmarks.md, "Weighting": RANDOM reaches 93.9%)."""
    X, y, X_test, y_test = load_dataset("digits")
    module_kw = module_kwargs("mlp", X, 10)
    accs = []
    for seed in range(5):
        net = make_runner_net("mlp", module_kw, 30, 32, lr=0.1, lr_schedule="constant")
        clf = SubsetTrainingClassifier(net, budget=0.1, R=5, kappa=kappa, random_state=seed,
                                       verbose=0)
        accs.append(clf.fit(X, y).score(X_test, y_test))
    assert min(accs) > 0.88, accs


# -- divergence ------------------------------------------------------------------
class InfInEval(nn.Module):
    """Trains normally; from its ``after + 1``-th evaluation under ``torch.inference_mode``
    (a selection's forward pass, not fit's checks of the module before training) on, its
    embeddings are infinite."""

    def __init__(self, after=0, softmax=False):  # softmax: make_net's module__softmax, unused
        super().__init__()
        self.body, self.head = nn.Linear(64, 16), nn.Linear(16, 10)
        self.after, self.evaluations = after, 0

    def forward(self, X):
        h = torch.relu(self.body(X))
        if not self.training and torch.is_inference_mode_enabled():
            self.evaluations += 1
            if self.evaluations > self.after:
                h = h * float("inf")
        return self.head(h)


@pytest.mark.parametrize("selector,kappa,where", [
    ("gradmatch", 0.5, r"epoch 1 of 6 \(warm start on all the data\)"),
    ("gradmatch", 0.0, r"epoch 1 of 10 \(subset training, selection round 1\)"),
    ("random", 0.5, r"epoch 1 of 6 \(warm start"),
    ("random", 0.0, r"epoch 1 of 10 \(subset training"),
    ("crest", 0.0, r"epoch 1 of 10 \(subset training"),
])
def test_diverging_training_loss_stops_fit(small, selector, kappa, where):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=10, lr=1e30), selector=selector,
                                   budget=0.2, kappa=kappa, verbose=0)
    with pytest.raises(DivergenceError, match=where + r".*training loss became nan.*"
                                                      r"smaller learning rate \(net lr=1e\+30\)"):
        clf.fit(X, y)


@pytest.mark.parametrize("after,kappa,where,rows", [
    (0, 0.0, "epoch 1 of 10 (subset training, selection round 1)", 400),
    (0, 0.5, "epoch 4 of 6 (subset training, selection round 2)", 320),
    (1, 0.5, "epoch 6 of 6 (subset training, selection round 3)", 320)])
def test_non_finite_logits_at_a_selection_stop_fit(small, after, kappa, where, rows):
    """Only the forward passes of a round evaluate the module: without a warm start the first
    round's over all 400 rows; after one (T = 10, kappa = 0.5, 20%: one warm epoch, then rounds
    before trained epochs 2, 4, 6) the first round is harvested, and the later ones pass over
    the 320 rows not trained since the last round."""
    X, y = small
    net = make_net(module=InfInEval, module__after=after, max_epochs=10, lr=0.01)
    clf = SubsetTrainingClassifier(net, selector=EVERY, budget=0.2, R=2, kappa=kappa, verbose=0)
    with pytest.raises(DivergenceError, match=re.escape(where) + r": at its selection, The net's "
                                              rf"logits are NaN or infinite for {rows} of {rows}"):
        clf.fit(X, y)


@pytest.mark.parametrize("kappa,where", [(0.5, "warm start"), (0.0, "subset training")])
def test_huge_inputs_are_named(small, kappa, where):
    X, y = small
    X = X.copy()
    X[:20] = 1e30
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), budget=0.2, kappa=kappa, verbose=0)
    with pytest.raises(DivergenceError, match=where + r".*inputs on a smaller scale "
                                                      r"\(the largest \|X\| is 1e\+30\)"):
        clf.fit(X, y)


def test_loss_ending_far_above_its_start_warns(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=10, lr=1e6, optimizer__momentum=0),
                                   budget=0.2, random_state=0, verbose=0)
    with pytest.warns(ConvergenceWarning, match="more than twice its start"):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SubsetTrainingClassifier(make_net(max_epochs=10, lr=0.01), budget=0.2, random_state=0,
                                 verbose=0).fit(X, y)


def test_same_random_state_same_run(small):
    X, y = small
    kw = dict(budget=0.2, R=2, random_state=3, verbose=0)
    a = SubsetTrainingClassifier(make_net(), **kw).fit(X, y)
    b = SubsetTrainingClassifier(make_net(), **kw).fit(X, y)
    for ra, rb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rb["indices"])
        np.testing.assert_allclose(ra["weights"], rb["weights"])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5)


@pytest.mark.parametrize("selector", [
    RandomSelector(sampling="cycle"),
    GradMatchSelector(pool_factor=2, sampling="cycle"),
    CrestSelector(subset_fraction=0.2),
], ids=["rs2", "gradmatch-cycle", "crest"])
def test_a_selector_keeps_nothing_of_its_runs(small, monkeypatch, selector):
    """One selector instance in two runs: what it keeps between rounds lives on each run, so
    afterwards it holds its parameters (and fitted attributes) only, and the second run selects
    what a fresh instance selects."""
    X, y = small
    kw = dict(budget=0.2, R=2, random_state=1, verbose=0)

    def history(selector):
        monkeypatch.setattr(SubsetTrainingClassifier, "_make_selector", lambda self: selector)
        clf = SubsetTrainingClassifier(make_net(max_epochs=5), **kw).fit(X, y)
        return [(r["indices"], r["weights"]) for r in clf.selection_history_]

    history(selector)
    second = history(selector)
    params = set(selector.get_params(deep=False))
    kept = [name for name in vars(selector) if name not in params
            and not (name.endswith("_") and not name.startswith("_"))]
    assert kept == []
    fresh = history(clone(selector))
    assert len(second) == len(fresh) > 1
    for (ia, wa), (ib, wb) in zip(second, fresh):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_per_batch_selects_whole_batches_with_shared_weights(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, R=2, per_batch=True,
                                   random_state=0, verbose=0).fit(X, y)
    rec = clf.selection_history_[0]
    assert rec["n_batches"] == math.ceil(80 / 32)
    assert len(rec["indices"]) == len(np.unique(rec["indices"]))
    assert len(np.unique(rec["weights"])) <= rec["n_batches"]


def test_timing_split_sums_to_total(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, R=2, kappa=0.5,
                                   random_state=0, verbose=0).fit(X, y)
    t = clf.timing_
    parts = ["setup", "warm_start", "gradients", "solver", "subset_training"]
    assert set(t) == set(parts) | {"total"}
    assert all(t[p] >= 0 for p in parts)
    assert t["total"] == pytest.approx(sum(t[p] for p in parts))
    assert t["gradients"] > 0 and t["solver"] > 0 and t["subset_training"] > 0
    assert t["warm_start"] > 0
    rec = clf.selection_history_[0]
    assert rec["seconds"] == pytest.approx(rec["gradient_seconds"] + rec["solver_seconds"])
