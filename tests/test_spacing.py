"""Rounds spaced by their cost (R="auto"), problems batched by size and split at max_support,
and one meaning for GRAD-MATCH's default."""

import time

import numpy as np
import pytest
import torch
from conftest import digits_net, random_last_layer

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset._estimator import default_selector
from sksubset._training import _cost
from sksubset._training._cost import R_MIN, example_flops
from sksubset.omp import OuterProductAtoms, omp_batched
from sksubset.selectors import RandomSelector, RoundShape
from sksubset.selectors._gradmatch_solve import (
    _buckets,
    _pad,
    fit_factored,
    solver_flops,
    split_problems,
)

OPTS = dict(lam=0.5, tol=1e-10, positive=True, criterion="correlation", per_step="auto")


def test_default_selector_is_gradmatch_without_arguments():
    assert default_selector().get_params() == GradMatchSelector().get_params()
    assert SubsetTrainingClassifier(digits_net())._make_selector().get_params() == \
        GradMatchSelector().get_params()


@pytest.mark.usefixtures("one_thread")
def test_none_gradmatch_and_instance_train_the_same(small):
    X, y = small
    runs = []
    for selector in (None, "gradmatch", GradMatchSelector()):
        clf = SubsetTrainingClassifier(digits_net(max_epochs=6), selector=selector, budget=0.2,
                                       random_state=0, verbose=0).fit(X, y)
        runs.append(clf)
    for other in runs[1:]:
        assert [r["epoch"] for r in other.selection_history_] == \
            [r["epoch"] for r in runs[0].selection_history_]
        for a, b in zip(other.selection_history_, runs[0].selection_history_):
            np.testing.assert_array_equal(a["indices"], b["indices"])
            np.testing.assert_allclose(a["weights"], b["weights"], rtol=1e-6)


def test_buckets_group_similar_problems():
    assert _buckets([100] * 4, [10] * 4) == [[0, 1, 2, 3]]
    # budgets 100, 90 together; 50, 45 together; 10 alone
    assert _buckets([1000, 900, 500, 450, 100], [100, 90, 50, 45, 10]) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("criterion", ["correlation", "gain"])
def test_unpadded_batches_choose_what_padded_ones_chose(criterion):
    """Problems solved in buckets of similar size select the same rows, with the same weights,
    as all of them padded together in one batch."""
    ll = random_last_layer(n=300, C=4, H=6, seed=3)
    sizes = [150, 90, 40, 20]
    groups = np.split(np.random.default_rng(0).permutation(300), np.cumsum(sizes)[:-1])
    targets = [ll[torch.as_tensor(g)].gradient_sum for g in groups]
    ks = [30, 18, 8, 4]
    opts = dict(OPTS, criterion=criterion)
    local, weights, _, _ = fit_factored(ll, groups, targets, ks, opts, per_gradient=False)
    subs = [ll[torch.as_tensor(g)] for g in groups]
    E, valid = _pad([s.E for s in subs])
    H, _ = _pad([s.Hb for s in subs])
    res = omp_batched(OuterProductAtoms(E, H), torch.stack(targets), ks, valid=valid, **opts)
    ref_local = np.concatenate([g[r.indices.numpy()] for g, r in zip(groups, res)])
    ref_w = np.concatenate([r.weights.numpy() for r in res])
    np.testing.assert_array_equal(local, ref_local)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-8, atol=1e-10)


def test_split_problems_interleaves_and_keeps_the_budget():
    g = np.arange(10, 30)
    groups, ks, origin = split_problems([g, np.arange(5)], [7, 2], 3)
    assert origin == [0, 0, 0, 1]
    np.testing.assert_array_equal(groups[0], g[0::3])
    np.testing.assert_array_equal(groups[1], g[1::3])
    assert sum(ks[:3]) == 7 and ks[3] == 2 and max(ks) <= 3
    # counts, for the cost model: the same split
    counts, ks2, _ = split_problems([20, 5], [7, 2], 3)
    assert counts == [len(x) for x in groups] and ks2 == ks
    assert split_problems([g], [7], None)[1] == [7]


def test_split_round_matches_each_part():
    """A round with max_support selects within each part, matching each part's own sum."""
    ll = random_last_layer(n=400, C=3, H=8, seed=5)
    groups = [np.arange(400)]
    sel = GradMatchSelector(max_support=20)
    local, weights, info = sel._select_examples(ll, groups, None, [60], [1.0])
    assert len(local) == 60 and len(np.unique(local)) == 60
    for j in range(3):  # parts: rows j, j + 3, ... each with 20 of them
        assert np.sum(local % 3 == j) == 20
    assert info["gradient_error"] < 0.5


def test_solver_flops_grow_with_pool_and_budget():
    base = solver_flops([300, 300], [100, 100], (10, 85), "auto")
    assert solver_flops([600, 600], [100, 100], (10, 85), "auto") > base
    assert solver_flops([300, 300], [200, 200], (10, 85), "auto") > base
    shape = RoundShape((1000,) * 10, 1000, 10, 85, 1e5, free_share=0.1)
    split = GradMatchSelector().round_flops(shape)
    whole = GradMatchSelector(max_support=None).round_flops(shape)
    assert split <= whole
    assert RandomSelector().round_flops(shape) is None


def test_example_flops_counts_a_linear_layer():
    module = torch.nn.Linear(20, 5)
    forward, train, C = example_flops(module, torch.zeros(4, 20))
    assert forward == 2 * 20 * 5 and C == 5
    assert train >= 2 * forward


@pytest.mark.usefixtures("one_thread")
def test_given_R_is_kept_and_auto_is_recorded(small):
    X, y = small
    clf = SubsetTrainingClassifier(digits_net(max_epochs=10), budget=0.2, R=3, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.spacing_.R == 3 and clf.spacing_.rule == "given"
    assert clf.schedule_.R == 3
    clf = SubsetTrainingClassifier(digits_net(max_epochs=10), budget=0.2, random_state=0,
                                   verbose=0).fit(X, y)
    assert clf.spacing_.rule in ("share", "pool")
    assert clf.schedule_.R == clf.spacing_.R >= R_MIN
    clf = SubsetTrainingClassifier(digits_net(max_epochs=10), selector="random", budget=0.2,
                                   random_state=0, verbose=0).fit(X, y)
    assert clf.spacing_.rule == "unpriced" and clf.schedule_.R == R_MIN


@pytest.mark.usefixtures("one_thread")
def test_auto_spacing_is_the_same_whatever_the_clock(small, monkeypatch):
    """The rule reads shapes, not the clock: a clock that runs 100 times slower or faster
    changes neither the interval nor the rounds."""
    X, y = small

    def fit():
        clf = SubsetTrainingClassifier(digits_net(max_epochs=12), budget=0.2, random_state=0,
                                       selection_share=0.01, verbose=0).fit(X, y)
        return clf.spacing_, [(r["epoch"], tuple(r["indices"])) for r in clf.selection_history_]

    reference = fit()
    for factor in (100.0, 0.01):
        real_perf, real_proc = time.perf_counter, time.process_time
        monkeypatch.setattr(time, "perf_counter", lambda f=factor, c=real_perf: c() * f)
        monkeypatch.setattr(time, "process_time", lambda f=factor, c=real_proc: c() * f)
        assert fit() == reference
        monkeypatch.undo()


def test_dear_rounds_cost_less_then_come_less_often():
    """A round predicted dear next to a subset epoch: a smaller pool, then a longer interval,
    never fewer than MIN_ROUNDS rounds."""

    class Net:
        max_epochs, batch_size, device = 100, 64, "cpu"  # 50 subset epochs
        module_ = torch.nn.Sequential(torch.nn.Linear(40, 256), torch.nn.ReLU(),
                                      torch.nn.Linear(256, 10))

    class Ex:
        def __init__(self, n):
            self.rows = np.zeros((n, 40), np.float32)

        def __len__(self):
            return len(self.rows)

    n, k = 20000, 2000
    sizes = [n // 10] * 10

    def space(share):
        own = GradMatchSelector()
        plan = _cost.space_rounds(Net(), Ex(n), own, k=k, class_sizes=sizes, n_valid=0,
                                  kappa=0.5, R="auto", share=share, per_batch=False)
        assert own.pool_factor == plan.pool_factor
        return plan

    cheap = space(0.9)
    assert (cheap.R, cheap.rule, cheap.pool_factor) == (R_MIN, "share", 3)
    smaller = space(cheap.share * 0.8)
    assert smaller.R == R_MIN and smaller.rule == "pool" and smaller.pool_factor < 3
    rarer = space(1e-6)
    assert rarer.pool_factor == _cost.MIN_POOL_FACTOR
    assert rarer.R == 50 // _cost.MIN_ROUNDS > R_MIN and rarer.share > 1e-6
