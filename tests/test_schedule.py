"""Tests of :mod:`sksubset.schedule` (the epoch layout of subset training)."""

import dataclasses
import math

import numpy as np
import pytest

from sksubset.schedule import Schedule, make_schedule

# (T, k, n, R, kappa) -> (warm, skipped, subset, selection epochs, full-epoch equivalents),
# each worked out by hand from the module docstring:
#   a = floor(kappa T); warm = ceil(a k / n); skipped = a - warm; subset = T - a;
#   selections at warm + 0, warm + R, ... (< warm + subset); cost = warm + subset k / n
CASES = [
    # the paper's setting: kappa = 0.5, T = 100, k/n = 0.1
    ((100, 6000, 60000, 20, 0.5), (5, 45, 50, (5, 25, 45), 10.0)),
    ((100, 10, 100, 20, 0.5), (5, 45, 50, (5, 25, 45), 10.0)),
    # kappa = 0: no warm start, T subset epochs
    ((10, 10, 100, 3, 0.0), (0, 0, 10, (0, 3, 6, 9), 1.0)),
    ((5, 1, 1000, 1, 0.0), (0, 0, 5, (0, 1, 2, 3, 4), 0.005)),
    ((10, 5, 10, 100, 0.0), (0, 0, 10, (0,), 5.0)),           # R beyond the run: one selection
    # kappa = 1: early-stopped full training, no subset epoch
    ((10, 10, 100, 3, 1.0), (1, 9, 0, (), 1.0)),
    ((4, 8, 8, 1, 1.0), (4, 0, 0, (), 4.0)),                  # k = n: all warm
    # a = floor(2.1) = 2, warm = ceil(0.6) = 1
    ((7, 3, 10, 2, 0.3), (1, 1, 5, (1, 3, 5), 2.5)),
    # a = floor(1.5) = 1, k = n: warm 1
    ((3, 10, 10, 5, 0.5), (1, 0, 2, (1,), 3.0)),
    # 0.29 * 100 = 28.999999999999996 in floating point, but floor(kappa T) is 29
    ((100, 1, 10, 10, 0.29), (3, 26, 71, (3, 13, 23, 33, 43, 53, 63, 73), 10.1)),
    # warm = ceil(10 * 25 / 100) = ceil(2.5) = 3
    ((20, 25, 100, 4, 0.5), (3, 7, 10, (3, 7, 11), 5.5)),
    # a = 70, warm = ceil(70 / 3) = 24
    ((100, 1, 3, 7, 0.7), (24, 46, 30, (24, 31, 38, 45, 52), 34.0)),
    # a = floor(0.5) = 0: nothing warm, a single subset epoch
    ((1, 1, 2, 1, 0.5), (0, 0, 1, (0,), 0.5)),
]


@pytest.mark.parametrize("args,expected", CASES, ids=[str(c[0]) for c in CASES])
def test_layout_by_hand(args, expected):
    T, k, n, R, kappa = args
    warm, skipped, subset, selections, cost = expected
    s = make_schedule(T, k, n, R, kappa)
    assert isinstance(s, Schedule)
    assert (s.n_epochs, s.warm_epochs, s.skipped_epochs, s.subset_epochs, s.R) == \
        (T, warm, skipped, subset, R)
    assert s.selection_epochs == selections
    assert s.n_trained == warm + subset
    assert s.full_epoch_equivalents(k, n) == pytest.approx(cost)


def test_paper_example_phases():
    s = make_schedule(100, k=6000, n=60000, R=20, kappa=0.5)
    assert [s.phase(e) for e in range(5)] == ["warm"] * 5
    assert all(s.phase(e) == "subset" for e in range(5, 55))
    assert s.n_trained == 55
    for bad in (55, 100, -1):
        with pytest.raises(IndexError, match="outside"):
            s.phase(bad)


def test_phase_kappa_0_and_1():
    plain = make_schedule(6, 10, 100, 2, 0.0)
    assert [plain.phase(e) for e in range(6)] == ["subset"] * 6
    full = make_schedule(10, 10, 100, 3, 1.0)
    assert full.phase(0) == "warm"
    with pytest.raises(IndexError):
        full.phase(1)


def test_schedule_is_frozen():
    s = make_schedule(10, 1, 10, 2, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.warm_epochs = 3


def test_invariants_on_random_settings():
    rng = np.random.default_rng(0)
    for _ in range(500):
        T = int(rng.integers(1, 300))
        n = int(rng.integers(1, 5000))
        k = int(rng.integers(1, n + 1))
        R = int(rng.integers(1, 40))
        kappa = float(rng.choice([0.0, 1.0, rng.random()]))
        s = make_schedule(T, k, n, R, kappa)
        a = math.floor(kappa * T + 1e-9)
        assert s.warm_epochs + s.skipped_epochs + s.subset_epochs == T
        assert s.subset_epochs == T - a
        assert min(s.warm_epochs, s.skipped_epochs, s.subset_epochs) >= 0
        # the warm start costs what the a subset epochs it replaces would, rounded up
        assert s.warm_epochs * n >= a * k
        assert (s.warm_epochs - 1) * n < a * k
        sel = s.selection_epochs
        if s.subset_epochs:
            assert sel[0] == s.warm_epochs
            assert all(b - a_ == R for a_, b in zip(sel, sel[1:]))
            assert sel[-1] < s.n_trained <= sel[-1] + R
            assert len(sel) == math.ceil(s.subset_epochs / R)
        else:
            assert sel == ()
        # never more expensive than the epoch budget on full data
        assert s.full_epoch_equivalents(k, n) <= T + 1e-9


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_epochs=0), "n_epochs"),
    (dict(n_epochs=-3), "n_epochs"),
    (dict(n_epochs=2.5), "n_epochs"),
    (dict(n_epochs="10"), "n_epochs"),
    (dict(R=0), "R must"),
    (dict(R=1.5), "R must"),
    (dict(kappa=-0.01), "kappa"),
    (dict(kappa=1.01), "kappa"),
    (dict(kappa="0.5"), "kappa"),
    (dict(kappa=None), "kappa"),
    (dict(k=0), "k=0"),
    (dict(k=101), "k=101"),
])
def test_bad_input(kwargs, match):
    args = dict(n_epochs=10, k=10, n=100, R=2, kappa=0.5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_schedule(**args)


def test_numpy_integer_inputs():
    s = make_schedule(np.int64(100), np.int64(10), np.int64(100), np.int64(20), np.float64(0.5))
    assert (s.warm_epochs, s.skipped_epochs, s.subset_epochs) == (5, 45, 50)
    assert type(s.n_epochs) is int and type(s.R) is int
