"""The solver's selection does not depend on the gradients' scale, a budget is filled unless the
tolerance is reached, and a short result or a fallback is told (``lam`` relative to the mean
squared norm of the candidate rows)."""

import warnings

import numpy as np
import pytest
import torch
from conftest import random_last_layer

from sksubset import GradMatchSelector
from sksubset.gradients import LastLayer
from sksubset.omp import OuterProductAtoms, omp_batched, orthogonal_matching_pursuit
from sksubset.omp._cholesky import Breakdown, CholeskySearch

SCALES = [1e-30, 1e-20, 1e-10, 1e-3, 1e3, 1e10, 1e20, 1e30]
CRITERIA = ["gain", "correlation"]
DTYPES = ["float32", "float64"]


def _matrix(seed=0, n=120, d=16):
    rng = np.random.default_rng(seed)
    return rng.normal(0.3, 1.0, (n, d)) * np.exp(rng.normal(0, 0.5, (n, 1)))


def _same(ref, got, rtol):
    (i0, w0), (i1, w1) = ref, got
    assert len(i1) == len(i0)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_allclose(w1, w0, rtol=rtol, atol=rtol * np.abs(w0).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_public_omp_is_scale_free(criterion, dtype):
    G = _matrix()
    b = G[:50].sum(0)
    rtol = 1e-4 if dtype == "float32" else 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = orthogonal_matching_pursuit(G, b, 15, criterion=criterion, dtype=dtype)
        for s in SCALES:
            got = orthogonal_matching_pursuit(G * s, b * s, 15, criterion=criterion, dtype=dtype)
            _same(ref, got, rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_selector_is_scale_free_on_dense_rows(criterion, dtype):
    G = _matrix(1, n=150)
    y = np.arange(150) % 3
    rtol = 1e-4 if dtype == "float32" else 1e-9
    kw = dict(budget=24, criterion=criterion, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = GradMatchSelector(**kw).fit(G, y)
        for s in SCALES:
            got = GradMatchSelector(**kw).fit(G * s, y)
            _same((ref.indices_, ref.weights_), (got.indices_, got.weights_), rtol)
            assert got.gradient_error_ == pytest.approx(ref.gradient_error_, rel=1e2 * rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_selector_is_scale_free_on_factors(criterion, dtype):
    tdtype = getattr(torch, dtype)
    ll = random_last_layer(n=90, C=3, H=6, seed=2, dtype=torch.float64)
    rtol = 1e-4 if dtype == "float32" else 1e-9
    kw = dict(budget=12, criterion=criterion, dtype=dtype)

    def scaled(s):  # gradients are linear in Hb
        return LastLayer(ll.E.to(tdtype), (ll.Hb * s).to(tdtype), ll.Z.to(tdtype), ll.y)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = GradMatchSelector(**kw).fit(scaled(1.0))
        for s in SCALES:
            got = GradMatchSelector(**kw).fit(scaled(s))
            _same((ref.indices_, ref.weights_), (got.indices_, got.weights_), rtol)


@pytest.mark.parametrize("criterion", CRITERIA)
def test_factored_omp_is_scale_free(criterion):
    g = torch.Generator().manual_seed(3)
    E = torch.randn(2, 50, 4, generator=g, dtype=torch.float64)
    H = torch.randn(2, 50, 6, generator=g, dtype=torch.float64).abs()
    def solve(se, sh):
        b = torch.einsum("bnc,bnh->bch", E * se, H * sh).reshape(2, -1)
        res = omp_batched(OuterProductAtoms((E * se).float(), (H * sh).float()), b, [8, 8],
                          criterion=criterion)
        return [(r.indices.numpy(), r.weights.numpy()) for r in res]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = solve(1.0, 1.0)
        for s in (1e-20, 1e-3, 1e10, 1e20):
            for r, got in zip(ref, solve(s, 1 / s ** 0.5)):
                _same(r, got, 1e-4)


@pytest.mark.parametrize("kw", [{}, dict(criterion="gain"), dict(criterion="correlation"),
                                dict(tol=0)])
def test_rank_deficient_budget_is_filled_at_every_scale(kw):
    """(300, 20) with budget 30: the ridge keeps every row independent, so 30 rows come back."""
    G = np.random.default_rng(0).normal(size=(300, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = GradMatchSelector(budget=30, **kw).fit(G)
        assert len(ref.indices_) == 30
        for s in [1e-30, 1e-3, 1e5, 1e10, 1e30]:
            sel = GradMatchSelector(budget=30, **kw).fit(G * s)
            assert len(sel.indices_) == 30
            np.testing.assert_array_equal(sel.indices_, ref.indices_)


@pytest.mark.parametrize("s", [1.0, 1e10, 1e-10])
def test_rank_deficient_without_ridge_warns_and_returns_its_rows(s):
    """Without a ridge, rows spanning 6 dimensions give 6 rows of a budget of 10, and a warning."""
    G = np.random.default_rng(0).normal(size=(40, 6))
    with pytest.warns(UserWarning, match="6 of 10 rows: .*span only 6 dimensions"):
        sel = GradMatchSelector(budget=10, lam=0, tol=0).fit(G * s)
    assert len(sel.indices_) == len(np.unique(sel.indices_)) == 6
    with pytest.warns(UserWarning, match="6 of 10 rows"):
        idx, _ = orthogonal_matching_pursuit(G * s, G.sum(0) * s, 10, lam=0, tol=0)
    assert len(idx) == 6


def test_tol_zero_fills_the_budget():
    """A target in the span of a few rows: tol=0 still fills the budget (tol > 0 stops)."""
    G = _matrix(4, n=80, d=30)
    b = G[[3, 9, 20]].sum(0)
    idx, _ = orthogonal_matching_pursuit(G, b, 12, lam=0, tol=1e-10)
    assert len(idx) < 12  # the tolerance is reached: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        idx, _ = orthogonal_matching_pursuit(G, b, 12, lam=0, tol=0)
    assert len(idx) == 12


def test_fewer_candidates_than_budget_warns():
    A = torch.randn(1, 10, 5, dtype=torch.float64)
    valid = torch.zeros(1, 10, dtype=torch.bool)
    valid[0, :4] = True
    with pytest.warns(UserWarning, match="4 of 6 rows: the problem has fewer usable candidates"):
        res = omp_batched(A, A[:, :4].sum(1), [6], valid=valid)[0]
    assert len(res.indices) == 4 and res.shortfall == "candidates"


def test_small_gradients_reach_the_unscaled_error():
    """Scaled by 1e-3, (2000, 50) with budget 200 reaches the unscaled gradient error (an
    absolute ridge drowned the small gradients: 0.998 against 0.0008)."""
    G = np.random.default_rng(0).normal(size=(2000, 50))
    ref = GradMatchSelector(budget=200).fit(G)
    small = GradMatchSelector(budget=200).fit(G * 1e-3)
    assert small.gradient_error_ == pytest.approx(ref.gradient_error_, rel=1e-3)
    assert small.gradient_error_ < 0.01


def test_float32_overflow_scale_keeps_the_rows():
    G = _matrix(5, n=60, d=12).astype(np.float32)
    for s in (1e20, 1e30):
        idx, w = orthogonal_matching_pursuit(G * np.float32(s), G.sum(0) * s, 8)
        assert len(idx) == 8 and np.isfinite(w).all() and (w > 0).any()


def test_cholesky_fallback_is_recorded_and_warned(monkeypatch):
    def fail(*args, **kwargs):
        raise Breakdown("forced")

    monkeypatch.setattr(CholeskySearch, "extend", fail)
    G = _matrix(6, n=90)
    y = np.arange(90) % 3
    with pytest.warns(UserWarning, match="Cholesky search broke down"):
        sel = GradMatchSelector(budget=12, criterion="correlation").fit(G, y)
    assert sel.solver_fallback_ and len(sel.indices_) == 12
    with pytest.warns(UserWarning, match="Cholesky search broke down"):
        res = omp_batched(torch.as_tensor(G)[None], torch.as_tensor(G.sum(0))[None], [5],
                          criterion="correlation")
    assert res[0].fallback
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not GradMatchSelector(budget=12, criterion="correlation").fit(
            G, y).solver_fallback_
