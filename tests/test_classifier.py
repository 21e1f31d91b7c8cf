"""Tests of SubsetTrainingClassifier: schedule, weighted training, sklearn contract."""

import math
import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from skorch.dataset import ValidSplit
from torch import nn

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset.classifier import FAST_SOLVER
from sksubset.exceptions import DivergenceError
from sksubset.experiments.datasets import load_dataset
from sksubset.experiments.models import make_net as make_runner_net
from sksubset.experiments.models import module_kwargs
from sksubset.gradients import last_layer, sample_gradients
from sksubset.selectors import BaseSelector, Selection


class MLP(nn.Module):
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


class AutoSizedNet(NeuralNetClassifier):
    """A net whose output layer has one unit per class (for sklearn's checks)."""

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        kwargs["n_out"] = len(self.classes)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self


def make_net(max_epochs=6, softmax=False, **kwargs):
    params = dict(module=MLP, module__softmax=softmax, max_epochs=max_epochs, lr=0.1,
                  optimizer__momentum=0.9, batch_size=32, train_split=None, verbose=0,
                  criterion=nn.NLLLoss if softmax else nn.CrossEntropyLoss)
    params.update(kwargs)
    return NeuralNetClassifier(**params)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:400], y[:400]


# -- the user's own lines ------------------------------------------------------
def test_used_by_line(digits):
    X, y = digits
    net = make_net(lr=0.03)  # per-example weighted subsets want a gentler lr (user guide, 3)
    clf = SubsetTrainingClassifier(net, budget=0.1).fit(X, y)
    assert clf.score(X, y) > 0.5
    assert clf.predict_proba(X[:5]).shape == (5, 10)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64


@pytest.mark.parametrize("softmax", [False, True])
def test_both_skorch_loss_conventions(small, softmax):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=10, softmax=softmax), budget=0.3, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.5


def test_string_labels_and_predict(small):
    X, y = small
    labels = np.array(list("abcdefghij"))[y]
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, random_state=0, verbose=0)
    clf.fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    np.testing.assert_array_equal(clf.classes_, np.array(list("abcdefghij")))


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
    assert [r["reason"] for r in clf.selection_history_][:1] == (["first"] if s.subset_epochs else [])
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


# -- weighted training ----------------------------------------------------------
class FixedSelector(BaseSelector):
    """Returns the same rows and weights every round (a test double)."""

    def __init__(self, indices=(0, 1, 2), weights=(1.0, 2.0, 5.0)):
        self.indices = indices
        self.weights = weights

    def select(self, context):
        return Selection(np.asarray(self.indices), np.asarray(self.weights, dtype=float), {})


def test_weighted_loss_is_exact():
    """One SGD step on the subset equals the step on mean_i(w_i' * loss_i), w' = w k / sum(w)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    y = np.arange(30) % 3
    module = nn.Linear(4, 3)
    W0, b0 = module.weight.detach().clone(), module.bias.detach().clone()
    net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, max_epochs=1, lr=0.5,
                              batch_size=64, train_split=None, verbose=0)
    idx, w = [3, 7, 20, 21], [0.5, 1.0, 2.0, 4.5]
    # random_state=None: the module instance keeps its weights W0 (a seed would re-draw them)
    clf = SubsetTrainingClassifier(net, selector=FixedSelector(idx, w), kappa=0, R=1,
                                   random_state=None, verbose=0).fit(X, y)
    ref = nn.Linear(4, 3)
    with torch.no_grad():
        ref.weight.copy_(W0)
        ref.bias.copy_(b0)
    wt = torch.tensor(w) * len(w) / sum(w)
    losses = nn.functional.cross_entropy(ref(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]),
                                         reduction="none")
    (wt * losses).mean().backward()
    with torch.no_grad():
        expected_W = W0 - 0.5 * ref.weight.grad
        expected_b = b0 - 0.5 * ref.bias.grad
    torch.testing.assert_close(clf.net_.module_.weight.detach(), expected_W)
    torch.testing.assert_close(clf.net_.module_.bias.detach(), expected_b)
    np.testing.assert_array_equal(clf.selection_history_[0]["indices"], idx)


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
    collapses (docs/benchmarks.md, section "Weighting": RANDOM reaches 93.9%)."""
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
    """Trains normally; from its ``after + 1``-th evaluation of more than two rows (a
    selection's forward pass, not fit's two-row check of the module) on, its embeddings are
    infinite."""

    def __init__(self, after=0, softmax=False):  # softmax: make_net's module__softmax, unused
        super().__init__()
        self.body, self.head = nn.Linear(64, 16), nn.Linear(16, 10)
        self.after, self.evaluations = after, 0

    def forward(self, X):
        h = torch.relu(self.body(X))
        if not self.training and len(X) > 2:
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


@pytest.mark.parametrize("after,where", [(0, "epoch 2 of 6 (subset training, selection round 1)"),
                                         (1, "epoch 4 of 6 (subset training, selection round 2)")])
def test_non_finite_logits_at_a_selection_stop_fit(small, after, where):
    X, y = small
    # T = 10, kappa = 0.5, 20%: one warm epoch, then selections before trained epochs 2, 4, 6
    net = make_net(module=InfInEval, module__after=after, max_epochs=10, lr=0.01)
    clf = SubsetTrainingClassifier(net, budget=0.2, R=2, verbose=0)
    with pytest.raises(DivergenceError, match=re.escape(where) + r": at its selection, The net's "
                                              r"logits are NaN or infinite for 400 of 400"):
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
                                   budget=0.2, verbose=0)
    with pytest.warns(ConvergenceWarning, match="more than twice its start"):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SubsetTrainingClassifier(make_net(max_epochs=10, lr=0.01), budget=0.2,
                                 verbose=0).fit(X, y)


def test_classes_kept_when_subset_lacks_a_class(small):
    X, y = small
    only_0_1 = np.flatnonzero(y < 2)[:20]
    sel = FixedSelector(tuple(only_0_1), tuple([1.0] * len(only_0_1)))
    clf = SubsetTrainingClassifier(make_net(), selector=sel, kappa=0, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 10)
    assert list(clf.net_.classes) == list(range(10))


def test_skorch_validation_split_does_not_eat_the_subset(small):
    X, y = small
    net = make_net(train_split=ValidSplit(5, stratified=True))
    clf = SubsetTrainingClassifier(net, budget=0.25, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.subset_size_ == 80  # 25% of the 320 training rows
    sizes = clf.net_.history[:, "subset_size"]
    assert sizes[-1] == 80
    assert all(np.isfinite(clf.net_.history[:, "valid_loss"]))
    chosen = np.unique(np.concatenate([r["indices"] for r in clf.selection_history_]))
    assert len(chosen) >= 80 and chosen.max() < len(X)


def test_valid_size_matches_a_stratified_hold_out(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.25, R=2, valid_size=0.2,
                                   random_state=0, verbose=0).fit(X, y)
    assert clf.subset_size_ == 80
    assert "valid_loss" in clf.net_.history[-1]
    # the hold-out never enters a subset: rerun the same split and compare
    clf2 = clone(clf).fit(X, y)
    for a, b in zip(clf.selection_history_, clf2.selection_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])
    errors = [r["gradient_error"] for r in clf.selection_history_]
    assert all(np.isfinite(errors))


# -- selection quality, determinism, timing --------------------------------------
def test_gradmatch_gradients_match_far_better_than_random(digits):
    X, y = digits
    clf = SubsetTrainingClassifier(make_net(max_epochs=4), budget=0.1,
                                   kappa=0.5, R=2, random_state=0, verbose=0).fit(X, y)
    ll = last_layer(clf.net_, torch.from_numpy(X), y)
    G = sample_gradients(ll.E, ll.Hb).double()
    target = G.sum(0)
    sel = GradMatchSelector(budget=0.1, per_class=True).fit(G, y)  # the classifier's default
    rng = np.random.default_rng(0)
    k = len(sel.indices_)
    rand = [float((G[rng.choice(len(G), k, replace=False)].sum(0) * len(G) / k - target).norm()
                  / target.norm()) for _ in range(20)]
    assert sel.gradient_error_ < 0.2 * min(rand)
    assert all(r["gradient_error"] < 0.25 * np.median(rand) for r in clf.selection_history_)


def test_same_random_state_same_run(small):
    X, y = small
    kw = dict(budget=0.2, R=2, random_state=3, verbose=0)
    a = SubsetTrainingClassifier(make_net(), **kw).fit(X, y)
    b = SubsetTrainingClassifier(make_net(), **kw).fit(X, y)
    for ra, rb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rb["indices"])
        np.testing.assert_allclose(ra["weights"], rb["weights"])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5)


def test_per_batch_selects_whole_batches_with_shared_weights(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, R=2, per_batch=True,
                                   random_state=0, verbose=0).fit(X, y)
    rec = clf.selection_history_[0]
    assert rec["n_batches"] == math.ceil(80 / 32)
    assert len(rec["indices"]) == len(np.unique(rec["indices"]))
    assert len(np.unique(rec["weights"])) <= rec["n_batches"]


def test_per_class_matches_the_standalone_selector(small, monkeypatch):
    """The default, per-class GRAD-MATCH, is GradMatchSelector(per_class=True) with the fast
    solver setting on the gradients."""
    X, y = small
    seen = []
    original = GradMatchSelector.select

    def spy(self, context):
        result = original(self, context)
        ll = context.train()
        seen.append((self.get_params(), sample_gradients(ll.E, ll.Hb), context.y, result))
        return result

    monkeypatch.setattr(GradMatchSelector, "select", spy)
    clf = SubsetTrainingClassifier(make_net(), budget=0.2, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    assert len(seen) == len(clf.selection_history_) > 0
    params, G, y_pool, result = seen[-1]
    assert params["per_class"] is True
    assert {k: params[k] for k in FAST_SOLVER} == FAST_SOLVER
    ref = GradMatchSelector(budget=clf.subset_size_, per_class=True, **FAST_SOLVER).fit(G, y_pool)
    np.testing.assert_array_equal(np.sort(ref.indices_), np.sort(result.indices))
    np.testing.assert_allclose(ref.weights_[np.argsort(ref.indices_)],
                               result.weights[np.argsort(result.indices)], rtol=1e-4)


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


def test_progress_bar_only_when_verbose(small, capsys):
    X, y = small  # capsys's stderr is no terminal: verbose=1 is silent, 2 forces the bar
    SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.5, verbose=1).fit(X, y)
    assert capsys.readouterr().err == ""
    SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.5, verbose=2).fit(X, y)
    assert "sksubset" in capsys.readouterr().err


def test_warns_when_a_subset_fits_in_one_mini_batch(small):
    X, y = small  # budget 0.05 of 400: 20 examples, one step per epoch with batches of 32
    with pytest.warns(UserWarning, match=r"20 examples.*batch_size=32.*single gradient step"):
        SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.05, verbose=0).fit(X, y)


def test_no_small_subset_warning_otherwise(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # 20 examples in batches of 8; and no subset epoch at all with kappa=1
        SubsetTrainingClassifier(make_net(max_epochs=2, batch_size=8), budget=0.05,
                                 verbose=0).fit(X, y)
        SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.05, kappa=1,
                                 verbose=0).fit(X, y)


# -- sklearn integration --------------------------------------------------------
def test_clone_and_nested_params():
    clf = SubsetTrainingClassifier(make_net(), budget=0.3, R=5)
    params = clf.get_params(deep=True)
    assert params["net__lr"] == 0.1 and params["R"] == 5
    clf.set_params(net__lr=0.05, kappa=0.25)
    assert clf.net.lr == 0.05 and clf.kappa == 0.25
    cloned = clone(clf)
    assert cloned.get_params()["net__lr"] == 0.05 and cloned.net is not clf.net


def test_pipeline_and_cross_val_score(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(), SubsetTrainingClassifier(
        make_net(), budget=0.25, R=2, random_state=0, verbose=0))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,) and scores.min() > 0.3


def test_grid_search_over_R_kappa_and_net_lr(small):
    X, y = small
    search = GridSearchCV(
        SubsetTrainingClassifier(make_net(max_epochs=4), budget=0.25, random_state=0, verbose=0),
        {"R": [1, 2], "kappa": [0, 0.5], "net__lr": [0.05, 0.1]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert search.best_estimator_.net_.lr in (0.05, 0.1)
    assert search.score(X, y) > 0.3


def test_pickle_round_trip(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(), budget=0.25, random_state=0, verbose=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X))
    assert len(pickle.dumps(clf)) < 20 * X.nbytes  # the training data is not carried along


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("params,match", [
    (dict(budget=0), "budget"), (dict(budget=1.5), "budget"), (dict(R=0), "'R'"),
    (dict(kappa=-0.1), "kappa"), (dict(kappa=1.5), "kappa"), (dict(selector="nope"), "selector"),
    (dict(valid_size=1.0), "valid_size"),
])
def test_bad_parameters(small, params, match):
    X, y = small
    with pytest.raises(ValueError, match=match):
        SubsetTrainingClassifier(make_net(), verbose=0, **params).fit(X, y)


def test_bad_net_and_data(small):
    X, y = small
    with pytest.raises(TypeError, match="skorch.NeuralNetClassifier"):
        SubsetTrainingClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="criterion"):
        SubsetTrainingClassifier(make_net(criterion=nn.MSELoss)).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SubsetTrainingClassifier(make_net()).fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SubsetTrainingClassifier(make_net()).fit(Xn, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SubsetTrainingClassifier(make_net()).fit(X[:5], np.zeros(5))
    with pytest.raises(ValueError, match="valid_size"):
        SubsetTrainingClassifier(make_net(), valid_size=5).fit(X, y)


# -- scikit-learn's common checks ----------------------------------------------------
EXPECTED_FAILURES = {}  # every common check passes


def _checked_estimator():
    net = AutoSizedNet(MLP, module__n_in=None, module__n_hidden=16, criterion=nn.CrossEntropyLoss,
                       max_epochs=30, lr=0.1, batch_size=16, train_split=None, verbose=0)
    return SubsetTrainingClassifier(net, budget=0.5, R=5, kappa=0.5, random_state=0, verbose=0)


@parametrize_with_checks([_checked_estimator()],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
@pytest.mark.filterwarnings("ignore:Each subset holds:UserWarning")  # the checks' tiny data
def test_sklearn_compatible(estimator, check):
    check(estimator)
