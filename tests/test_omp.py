"""Tests of :mod:`sksubset.omp` (regularized non-negative OMP and batched NNLS)."""

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import nnls
from sklearn.linear_model import orthogonal_mp

from sksubset.omp import (
    DenseAtoms,
    OuterProductAtoms,
    omp_batched,
    orthogonal_matching_pursuit,
)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def objective(A, b, idx, w, lam):
    """``||A_S^T w - b||^2 + lam ||w||^2`` in float64."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    resid = w @ A[np.asarray(idx, dtype=np.int64)] - b
    return float(resid @ resid + lam * (w @ w))


def ridge_nnls(A, b, support, lam):
    """Exact ``min_{w >= 0} ||A_S^T w - b||^2 + lam ||w||^2`` (weights, objective)."""
    S = list(support)
    M = np.vstack([A[S].T, math.sqrt(lam) * np.eye(len(S))])
    c = np.concatenate([b, np.zeros(len(S))])
    w, rnorm = nnls(M, c)
    return w, rnorm ** 2


def reference_greedy(A, b, k, lam, criterion="gain", positive=True):
    """Textbook regularized greedy selection, without any NNLS (float64 numpy).

    ``criterion="gain"``: the atom whose addition lowers the regularized error the
    most, ``<a_j, r> / sqrt(d_j)`` with ``d_j`` the squared norm of the augmented
    atom ``[a_j; sqrt(lam) e_j]`` off the span of the chosen ones;
    ``"correlation"``: the largest ``<a_j, r>``.  With ``positive=False`` the
    absolute value.  Returns the support (in order) and its *unconstrained* ridge
    weights.
    """
    A = np.asarray(A, dtype=np.float64)
    S, w = [], np.zeros(0)
    sq = (A * A).sum(1) + lam
    for _ in range(k):
        r = b - (w @ A[S] if S else 0.0)
        c = A @ r
        if criterion == "gain":
            if S:
                As = A[S]
                M = As @ As.T + lam * np.eye(len(S))
                g = As @ A.T  # <a~_s, a~_j> = <a_s, a_j> for j outside S
                proj = (g * np.linalg.solve(M, g)).sum(0)
            else:
                proj = 0.0
            score = c / np.sqrt(np.maximum(sq - proj, max(lam, 1e-300)))
        else:
            score = c.copy()
        if not positive:
            score = np.abs(score)
        score[S] = -np.inf
        S.append(int(np.argmax(score)))
        As = A[S]
        w = np.linalg.solve(As @ As.T + lam * np.eye(len(S)), As @ b)
    return S, w


def solve(A, b, k, **kw):
    """``omp_batched`` on a single problem, from numpy."""
    kw.setdefault("lam", 0.5)
    return omp_batched(torch.as_tensor(A)[None], torch.as_tensor(b, dtype=torch.float64)[None],
                       [k], **kw)[0]


# ---------------------------------------------------------------------------
# optimality: weak-submodularity greedy bound against exhaustive search
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.5, 0.1])
@pytest.mark.parametrize("scale", [0.3, 1.0])
@pytest.mark.parametrize("n,d,k", [(10, 6, 3), (12, 8, 4), (9, 10, 2)])
def test_greedy_within_weak_submodularity_bound(seed, lam, scale, n, d, k):
    rng = np.random.default_rng(seed)
    A = scale * rng.normal(size=(n, d))
    # a GRAD-MATCH-like target: sum of the rows plus some noise
    b = A.sum(0) + scale * rng.normal(size=d)
    bb = float(b @ b)

    idx, w = orthogonal_matching_pursuit(A, b, k, lam=lam, positive=True, dtype=torch.float64)
    assert len(idx) == k and len(set(idx.tolist())) == k
    assert (w >= 0).all()
    E_greedy = objective(A, b, idx, w, lam)
    # the returned weights are the exact non-negative refit on the returned support
    _, E_refit = ridge_nnls(A, b, idx, lam)
    assert E_greedy == pytest.approx(E_refit, rel=1e-7, abs=1e-9)

    F_greedy = bb - E_greedy
    F_star = bb - min(ridge_nnls(A, b, S, lam)[1] for S in itertools.combinations(range(n), k))
    F_single = bb - min(ridge_nnls(A, b, [i], lam)[1] for i in range(n))

    # GRAD-MATCH (Killamsetty et al., 2021), Theorem 1: with
    #   F(S) = ||b||^2 - min_{w >= 0} (||A_S^T w - b||^2 + lam ||w||^2),
    # F is gamma-weakly submodular with gamma >= lam / (lam + k * beta_max),
    # beta_max = max_i ||a_i||^2, so the greedy support satisfies
    #   F(S_greedy) >= (1 - exp(-gamma)) * F(S*).
    beta_max = float((A * A).sum(1).max())
    gamma = lam / (lam + k * beta_max)
    assert F_greedy >= (1 - math.exp(-gamma)) * F_star - 1e-9 * bb
    assert F_greedy <= F_star + 1e-9 * bb  # sanity of the exhaustive search itself
    # never worse than the best single atom (the greedy's first pick)
    assert F_greedy >= F_single - 1e-9 * bb


# ---------------------------------------------------------------------------
# agreement with scikit-learn's classical OMP (lam=0, signed)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n,d,k", [(40, 15, 6), (25, 25, 10)])
def test_matches_sklearn_orthogonal_mp(seed, n, d, k):
    rng = np.random.default_rng(100 + seed)
    A = rng.normal(size=(n, d))
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    b = rng.normal(size=d)

    idx, w = orthogonal_matching_pursuit(A, b, k, lam=0.0, positive=False,
                                         criterion="correlation", dtype=torch.float64)
    coef = orthogonal_mp(A.T, b, n_nonzero_coefs=k)
    support = np.flatnonzero(coef)
    assert sorted(idx.tolist()) == sorted(support.tolist())
    np.testing.assert_allclose(w, coef[idx], rtol=1e-7, atol=1e-10)
    assert (w < 0).any()  # the signed variant really is signed here

    # the greedy order matches sklearn's path too
    path = orthogonal_mp(A.T, b, n_nonzero_coefs=k, return_path=True)
    order = []
    for t in range(path.shape[1]):
        new = set(np.flatnonzero(path[:, t]).tolist()) - set(order)
        assert len(new) == 1
        order.extend(new)
    assert idx.tolist() == order


# ---------------------------------------------------------------------------
# non-negativity and exact counts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n,d,k", [(30, 10, 6), (20, 4, 8), (15, 30, 15), (5, 3, 8)])
def test_nonnegative_and_exact_count(seed, n, d, k):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)).astype(np.float32)
    b = rng.normal(size=d)  # generally not in the cone of the atoms
    res = solve(A, b, k, lam=0.1)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert not res.converged
    assert len(idx) == min(k, n)
    assert len(np.unique(idx)) == len(idx)
    assert ((idx >= 0) & (idx < n)).all()
    assert (w >= 0).all() and np.isfinite(w).all()
    assert res.weights.dtype == torch.float64
    # the reported relative error is the objective of the returned weights
    assert res.error == pytest.approx(objective(A, b, idx, w, 0.1) / (b @ b), rel=1e-5)


def _negative_refit_problem(criterion):
    """A seeded 3-d problem whose first greedy support refits to a negative weight."""
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        A = rng.normal(size=(8, 3))
        b = rng.normal(size=3)
        S, w = reference_greedy(A, b, 3, 1e-3, criterion)
        if w.min() < -0.05:
            return A, b
    raise AssertionError("no such problem found")  # pragma: no cover


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_negative_refit_replaces_atoms(criterion):
    A, b = _negative_refit_problem(criterion)
    lam, k = 1e-3, 3
    S, w_unc = reference_greedy(A, b, k, lam, criterion)
    assert w_unc.min() < 0  # the construction: plain OMP would give a negative weight
    res = solve(A, b, k, lam=lam, criterion=criterion)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert res.n_rounds > 1
    assert len(idx) == k and len(set(idx.tolist())) == k
    assert (w >= 0).all()
    # the result is at least as good as the NNLS refit of the first greedy support
    _, E_first = ridge_nnls(A, b, S, lam)
    assert objective(A, b, idx, w, lam) <= E_first + 1e-10
    # final weights are the exact NNLS on the final support
    w_ref, _ = ridge_nnls(A, b, idx, lam)
    np.testing.assert_allclose(w, w_ref, atol=1e-8)


def test_target_partly_outside_the_cone_replaces_in_rounds():
    """A target partly outside the atoms' cone: NNLS zeroes atoms in several rounds.

    Every round bans the zeroed atoms and fills their slots with the free atoms
    best correlated with the residual of the non-negative fit; the result keeps
    exactly k atoms of positive weight, exactly NNLS-fitted, and beats the
    NNLS refit of the first greedy support.
    """
    rng = np.random.default_rng(1)
    A = rng.normal(size=(200, 20)) + 0.5
    b = A[:60].sum(0) - 0.6 * A[60:120].sum(0)  # partly against the atoms' mean direction
    lam, k = 0.5, 15
    res = solve(A, b, k, lam=lam)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert res.n_rounds > 2
    assert len(set(idx.tolist())) == k and (w > 0).all()
    w_ref, _ = ridge_nnls(A, b, idx, lam)
    np.testing.assert_allclose(w, w_ref, atol=1e-8)
    S, _ = reference_greedy(A, b, k, lam, "gain")
    _, E_first = ridge_nnls(A, b, S, lam)
    assert objective(A, b, idx, w, lam) < E_first


def test_max_rounds_caps_the_refits_and_keeps_the_count():
    """A target that 15 non-negative atoms reach badly takes many rounds; the cap stops them."""
    rng = np.random.default_rng(5)
    A = rng.normal(size=(200, 20)) + 0.5
    b = A[:60].sum(0) - A[60:120].sum(0)
    lam, k = 0.5, 15
    full = solve(A, b, k, lam=lam, max_rounds=1000)
    capped = solve(A, b, k, lam=lam, max_rounds=5)
    assert full.n_rounds > 5 and capped.n_rounds == 5
    idx, w = capped.indices.numpy(), capped.weights.numpy()
    assert len(set(idx.tolist())) == k and (w >= 0).all() and (w == 0).any()
    w_ref, E_capped = ridge_nnls(A, b, idx, lam)
    np.testing.assert_allclose(w, w_ref, atol=1e-8)
    S, _ = reference_greedy(A, b, k, lam, "gain")
    _, E_first = ridge_nnls(A, b, S, lam)
    E_full = objective(A, b, full.indices.numpy(), full.weights.numpy(), lam)
    assert E_full <= E_capped * (1 + 1e-9) and E_capped <= E_first


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
@pytest.mark.parametrize("lam", [0.5, 0.01])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n,d,k", [(30, 12, 8), (80, 60, 40)])
def test_greedy_order_matches_reference(criterion, lam, seed, n, d, k):
    """Without non-negativity the greedy order is exactly the textbook one."""
    rng = np.random.default_rng(200 + seed)
    A = rng.normal(size=(n, d)) * rng.uniform(0.3, 3.0, size=(n, 1))  # unequal norms
    b = rng.normal(size=d) + A[:5].sum(0)
    S, w_ref = reference_greedy(A, b, k, lam, criterion, positive=False)
    res = solve(A, b, k, lam=lam, criterion=criterion, positive=False)
    assert res.indices.tolist() == S
    np.testing.assert_allclose(res.weights.numpy(), w_ref, rtol=1e-8, atol=1e-10)
    assert res.n_rounds == 1


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_positive_greedy_order_matches_reference(criterion):
    """With non-negativity and no replaced atom, the order is the positive-rule one."""
    checked = 0
    for seed in range(6):
        rng = np.random.default_rng(300 + seed)
        A = rng.normal(size=(40, 10)) * rng.uniform(0.3, 3.0, size=(40, 1)) + 0.3
        b = A.sum(0)
        res = solve(A, b, 6, lam=0.5, criterion=criterion)
        if res.n_rounds != 1:
            continue
        S, w_ref = reference_greedy(A, b, 6, 0.5, criterion, positive=True)
        assert res.indices.tolist() == S
        if (w_ref > 0).all():
            np.testing.assert_allclose(res.weights.numpy(), w_ref, rtol=1e-8)
        checked += 1
    assert checked >= 3


def test_gain_and_correlation_differ_and_gain_first_is_best_single():
    rng = np.random.default_rng(8)
    b = rng.normal(size=10)
    u = rng.normal(size=10)
    u -= (u @ b) / (b @ b) * b
    # atom 0: long, at 60 degrees from b; atom 1: short and parallel to b; others: noise
    a0 = 10 * (0.5 * b / np.linalg.norm(b) + np.sqrt(0.75) * u / np.linalg.norm(u))
    a1 = b / np.linalg.norm(b)
    A = np.vstack([a0, a1, 0.1 * rng.normal(size=(20, 10))])
    lam = 0.5
    i_gain, _ = orthogonal_matching_pursuit(A, b, 1, lam=lam, criterion="gain",
                                            dtype=torch.float64)
    i_corr, _ = orthogonal_matching_pursuit(A, b, 1, lam=lam, criterion="correlation",
                                            dtype=torch.float64)
    single = [ridge_nnls(A, b, [i], lam)[1] for i in range(len(A))]
    assert i_gain.tolist() == [int(np.argmin(single))] == [1]
    assert i_corr.tolist() == [int(np.argmax(A @ b))] == [0]


def test_invalid_criterion():
    with pytest.raises(ValueError, match="criterion"):
        orthogonal_matching_pursuit(np.eye(3), np.ones(3), 2, criterion="best")


_A = np.random.default_rng(0).normal(size=(8, 4))
_A_NAN = _A.copy()
_A_NAN[2, 1] = np.nan


# (A, b, n_nonzero, keyword arguments, error class, message fragment)
@pytest.mark.parametrize("A,b,k,kwargs,error,match", [
    (_A_NAN, _A.sum(0), 3, {}, ValueError, "A contains NaN or infinite"),
    (_A, np.r_[_A.sum(0)[:3], np.inf], 3, {}, ValueError, "b contains NaN or infinite"),
    (_A, _A.sum(0), -1, {}, ValueError, "'n_nonzero'"),
    (_A, _A.sum(0), 0, {}, ValueError, "'n_nonzero'"),
    (_A, _A.sum(0), 9, {}, ValueError, r"n_nonzero=9 is larger than the number of atoms"),
    (_A, _A.sum(0), 3, {"lam": -0.5}, ValueError, "'lam'"),
    (_A, _A.sum(0), 3, {"eps": -1.0}, ValueError, "'eps'"),
    (_A, _A.sum(0)[:3], 3, {}, ValueError, r"b must have shape \(4,\); got \(3,\)"),
    (_A, _A[:2], 3, {}, ValueError, r"b must have shape \(4,\); got \(2, 4\)"),
    (_A[0], _A[0], 1, {}, ValueError, "A must be 2-D"),
    (_A + 1j, _A.sum(0), 3, {}, TypeError, "A must be real"),
    (torch.tensor(_A, dtype=torch.complex64), _A.sum(0), 3, {}, TypeError, "A must be real"),
    (_A, _A.sum(0) + 0j, 3, {}, TypeError, "b must be real"),
    ([["a", "b"]], [1.0, 2.0], 1, {}, TypeError, "A must be a numeric array"),
    (_A, _A.sum(0), 3, {"dtype": torch.int64}, ValueError, "dtype"),
    (_A, _A.sum(0), 3, {"device": "tpu"}, ValueError, "device='tpu'"),
    (_A, _A.sum(0), 3, {"positive": "yes"}, ValueError, "'positive'"),
])
def test_bad_input_is_refused(A, b, k, kwargs, error, match):
    with pytest.raises(error, match=match):
        orthogonal_matching_pursuit(A, b, k, **kwargs)


def test_float64_input_and_dtype_names_agree():
    i1, w1 = orthogonal_matching_pursuit(_A, _A.sum(0), 3, dtype=torch.float64)
    i2, w2 = orthogonal_matching_pursuit(torch.from_numpy(_A), _A.sum(0), 3, dtype="float64")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(w1, w2)


@pytest.mark.parametrize("k", [4, 5])
@pytest.mark.parametrize("lam", [0.5, 0.01])
def test_every_atom_tried_keeps_exact_count(k, lam):
    # b = e1; atoms e1, e2, e3, -e1, -e2: only e1 is useful, the others must get 0
    A = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)
    b = np.array([1.0, 0.0, 0.0])
    res = solve(A, b, k, lam=lam, eps=0.0)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert len(idx) == k
    assert len(np.unique(idx)) == k
    assert (w >= 0).all()
    assert idx[0] == 1
    assert w[0] == pytest.approx(1.0 / (1.0 + lam))
    np.testing.assert_array_equal(w[1:], 0.0)
    assert res.error == pytest.approx(lam / (1 + lam), abs=1e-12)


def test_k_equal_n_random():
    rng = np.random.default_rng(7)
    n, d = 9, 4
    A = rng.normal(size=(n, d))
    b = rng.normal(size=d)
    idx, w = orthogonal_matching_pursuit(A, b, n, lam=0.1, dtype=torch.float64)
    assert sorted(idx.tolist()) == list(range(n))
    assert (w >= 0).all()
    assert (w == 0).any()  # 9 atoms in 4 dimensions with a random target
    # with every atom available the result is the global NNLS optimum
    w_ref, E_ref = ridge_nnls(A, b, range(n), 0.1)
    assert objective(A, b, idx, w, 0.1) == pytest.approx(E_ref, rel=1e-8)


# ---------------------------------------------------------------------------
# early stop
# ---------------------------------------------------------------------------
def test_early_stop_at_tolerance():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(40, 20))
    b = 1.0 * A[3] + 2.0 * A[17] + 0.5 * A[29]
    res = solve(A, b, 8, lam=1e-10, eps=1e-6)
    assert res.converged
    assert len(res.indices) < 8
    assert sorted(res.indices.tolist()) == [3, 17, 29]
    order = np.argsort(res.indices.numpy())
    np.testing.assert_allclose(res.weights.numpy()[order], [1.0, 2.0, 0.5], rtol=1e-6)
    assert res.error <= 1e-6
    # the public function stops early too
    idx, w = orthogonal_matching_pursuit(A, b, 8, lam=1e-10, eps=1e-6)
    assert sorted(idx.tolist()) == [3, 17, 29]


def test_no_early_stop_without_tolerance_reached():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(40, 20))
    b = rng.normal(size=20)
    res = solve(A, b, 8, lam=1e-10, eps=1e-6)
    assert not res.converged
    assert len(res.indices) == 8


# ---------------------------------------------------------------------------
# determinism, precision, input types
# ---------------------------------------------------------------------------
def _well_conditioned(seed=0, n=120, d=60):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) + 0.3
    return A, A.sum(0)


def test_deterministic():
    A, b = _well_conditioned()
    i1, w1 = orthogonal_matching_pursuit(A, b, 12)
    i2, w2 = orthogonal_matching_pursuit(A, b, 12)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(w1, w2)


def test_float32_and_float64_agree():
    A, b = _well_conditioned()
    i32, w32 = orthogonal_matching_pursuit(A, b, 12, dtype=torch.float32)
    i64, w64 = orthogonal_matching_pursuit(A, b, 12, dtype=torch.float64)
    np.testing.assert_array_equal(i32, i64)
    assert w32.dtype == np.float64 and w64.dtype == np.float64
    np.testing.assert_allclose(w32, w64, rtol=1e-4)


def test_numpy_and_torch_inputs_agree():
    A, b = _well_conditioned()
    i_np, w_np = orthogonal_matching_pursuit(A, b, 12)
    i_t, w_t = orthogonal_matching_pursuit(torch.from_numpy(A), torch.from_numpy(b), 12)
    assert isinstance(i_t, np.ndarray) and isinstance(w_t, np.ndarray)
    np.testing.assert_array_equal(i_np, i_t)
    np.testing.assert_allclose(w_np, w_t, rtol=1e-12)
    # float32 tensors and a float32 ndarray
    A32 = A.astype(np.float32)
    i_a, w_a = orthogonal_matching_pursuit(A32, b, 12)
    i_b, w_b = orthogonal_matching_pursuit(torch.from_numpy(A32), torch.from_numpy(b).float(), 12)
    np.testing.assert_array_equal(i_a, i_b)
    np.testing.assert_allclose(w_a, w_b, rtol=1e-5)


@pytest.mark.parametrize("check_every", [None, 1, 3])
def test_batched_equals_separate_solves(check_every):
    rng = np.random.default_rng(11)
    d = 9
    sizes = [20, 13, 7]
    ks = [5, 4, 7]  # the last one takes every atom of its problem
    As = [rng.normal(size=(m, d)) for m in sizes]
    bs = [As[0].sum(0), rng.normal(size=d), As[2][:3].sum(0) + 0.5 * rng.normal(size=d)]
    # a problem whose target is an exact positive combination: converges early in the batch
    As.append(rng.normal(size=(16, d)))
    bs.append(2.0 * As[3][4] + As[3][9])
    sizes.append(16)
    ks.append(6)
    B, n_max = len(As), max(sizes)
    A = torch.as_tensor(1e3 * rng.normal(size=(B, n_max, d)))  # padding: huge, must be ignored
    valid = torch.zeros(B, n_max, dtype=torch.bool)
    for i, a in enumerate(As):
        A[i, :len(a)] = torch.as_tensor(a)
        valid[i, :len(a)] = True
    b = torch.as_tensor(np.stack(bs))
    lam, eps = 1e-6, 1e-4
    batched = omp_batched(A, b, ks, valid=valid, lam=lam, eps=eps, check_every=check_every)
    assert len(batched) == B
    for i in range(B):
        single = omp_batched(torch.as_tensor(As[i])[None], b[i:i + 1], [ks[i]], lam=lam,
                             eps=eps)[0]
        assert (batched[i].indices < sizes[i]).all()
        assert batched[i].indices.tolist() == single.indices.tolist()
        np.testing.assert_allclose(batched[i].weights.numpy(), single.weights.numpy(),
                                   rtol=1e-8, atol=1e-12)
        assert batched[i].error == pytest.approx(single.error, rel=1e-6, abs=1e-14)
        assert batched[i].converged == single.converged
    assert batched[3].converged and len(batched[3].indices) == 2
    assert len(batched[2].indices) == 7


def test_check_every_does_not_change_result():
    A, b = _well_conditioned(seed=4)
    At, bt = torch.as_tensor(A)[None], torch.as_tensor(b)[None]
    ref = omp_batched(At, bt, [15], check_every=100)[0]
    for ce in (1, 2, 7):
        r = omp_batched(At, bt, [15], check_every=ce)[0]
        assert r.indices.tolist() == ref.indices.tolist()
        np.testing.assert_allclose(r.weights.numpy(), ref.weights.numpy(), rtol=1e-10)


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_outer_product_atoms_equal_dense(criterion):
    """Factored atoms (last-layer gradients) give the same solve as their expansion."""
    rng = np.random.default_rng(21)
    B, n, C, m = 3, 90, 4, 6
    sizes, ks = [90, 60, 35], [40, 12, 35]  # 40 > 32 steps: the periodic refresh runs
    E = torch.as_tensor(rng.normal(size=(B, n, C)))
    H = torch.as_tensor(np.concatenate([np.ones((B, n, 1)), rng.normal(size=(B, n, m - 1))], 2))
    valid = torch.zeros(B, n, dtype=torch.bool)
    for i, s_ in enumerate(sizes):
        valid[i, :s_] = True
    dense = (E.unsqueeze(3) * H.unsqueeze(2)).reshape(B, n, C * m)
    b = torch.stack([dense[i, :sizes[i]].sum(0) for i in range(B)])
    ref = omp_batched(dense, b, ks, valid=valid, criterion=criterion)
    fac = omp_batched(OuterProductAtoms(E, H), b, ks, valid=valid, criterion=criterion)
    wrapped = omp_batched(DenseAtoms(dense), b, ks, valid=valid, criterion=criterion)
    for r, f, w_ in zip(ref, fac, wrapped):
        assert f.indices.tolist() == r.indices.tolist() == w_.indices.tolist()
        np.testing.assert_allclose(f.weights.numpy(), r.weights.numpy(), rtol=1e-8, atol=1e-12)
        assert f.error == pytest.approx(r.error, rel=1e-8, abs=1e-14)
    assert len(fac[0].indices) == 40 and len(fac[2].indices) == 35


# ---------------------------------------------------------------------------
# degenerate atoms
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("k", [8, 7, 4])
def test_duplicated_atom_lam0(positive, k):
    rng = np.random.default_rng(5)
    n, d = 8, 20
    A = rng.normal(size=(n, d))
    A[1] = A[0]
    b = A[0] + 0.7 * A[5] + rng.normal(size=d)  # not in the span: no early stop
    res = solve(A, b, k, lam=0.0, positive=positive)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert len(idx) == k
    assert len(np.unique(idx)) == k
    assert np.isfinite(w).all()
    if positive:
        assert (w >= 0).all()
    # the two copies never both carry weight
    on = {int(i) for i, wi in zip(idx, w) if wi != 0}
    assert not {0, 1} <= on
    assert np.isfinite(res.error) and 0 <= res.error <= 1


def test_zero_atom_is_never_useful():
    rng = np.random.default_rng(6)
    A = rng.normal(size=(10, 6))
    A[4] = 0.0
    b = A.sum(0)
    idx, w = orthogonal_matching_pursuit(A, b, 5, lam=0.0, positive=False)
    assert 4 not in idx.tolist()
    assert np.isfinite(w).all()


# ---------------------------------------------------------------------------
# side by side with CORDS (the paper's reference code), when installed
# ---------------------------------------------------------------------------
def _load_cords_omp():
    spec = importlib.util.find_spec("cords")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("CORDS is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "selectionstrategies" / "helpers" \
        / "omp_solvers.py"
    if not path.exists():
        pytest.skip(f"CORDS has no {path}")
    saved = np.geterr()
    try:
        file_spec = importlib.util.spec_from_file_location("_cords_omp_solvers", path)
        mod = importlib.util.module_from_spec(file_spec)
        file_spec.loader.exec_module(mod)
    except Exception as exc:  # pragma: no cover - depends on the CORDS install
        pytest.skip(f"could not load CORDS's omp_solvers.py: {exc}")
    finally:
        np.seterr(**saved)
    return mod


@pytest.mark.parametrize("seed", range(4))
def test_side_by_side_with_cords(seed):
    cords = _load_cords_omp()
    rng = np.random.default_rng(seed)
    n, d, k, lam = 200, 30, 20, 0.5
    A = (rng.normal(size=(n, d)) + 0.2).astype(np.float32)
    b = A.astype(np.float64).sum(0)
    saved = np.geterr()
    try:
        x = cords.OrthogonalMP_REG_Parallel(torch.from_numpy(A.T.copy()),
                                            torch.from_numpy(b.astype(np.float32)), nnz=k,
                                            positive=True, lam=lam, tol=1e-10)
    finally:
        np.seterr(**saved)
    x = x.double().numpy()
    c_idx = np.flatnonzero(x)
    c_err = objective(A, b, c_idx, x[c_idx], lam) / (b @ b)

    # dense random atoms: the correlation rule follows CORDS's path (the gain rule can
    # lose here, see the omp module docstring; gradient-like atoms are tested below)
    idx, w = orthogonal_matching_pursuit(A, b, k, lam=lam, positive=True,
                                         criterion="correlation")
    ours = objective(A, b, idx, w, lam) / (b @ b)
    assert len(idx) == k and len(np.unique(idx)) == k
    assert (w >= 0).all()
    # GRAD-MATCH-like problem (sum target, non-centred atoms): the solver should be at
    # least as accurate as the reference implementation, up to 1% (relative) slack
    assert ours <= 1.01 * c_err + 1e-6, (ours, c_err)


@pytest.fixture(scope="module")
def digits_gradients():
    """Per-example last-layer gradients of an MLP trained two epochs on digits."""
    from sklearn.datasets import load_digits
    from skorch import NeuralNetClassifier

    from sksubset.gradients import last_layer, sample_gradients

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=2, lr=0.1,
                              train_split=None, verbose=0).fit(X, y)
    ll = last_layer(net, torch.from_numpy(X), y)
    return sample_gradients(ll.E, ll.Hb).numpy()


@pytest.mark.parametrize("seed", range(3))
def test_gain_rule_at_least_as_good_as_cords_on_gradients(digits_gradients, seed):
    """On real last-layer gradients the default (gain) rule matches the target best."""
    cords = _load_cords_omp()
    rows = np.random.default_rng(seed).choice(len(digits_gradients), 600, replace=False)
    A = digits_gradients[rows]
    b = A.astype(np.float64).sum(0)
    k, lam = 40, 0.5
    saved = np.geterr()
    try:
        x = cords.OrthogonalMP_REG_Parallel(torch.from_numpy(A.T.copy()),
                                            torch.from_numpy(b.astype(np.float32)), nnz=k,
                                            positive=True, lam=lam, tol=1e-10).double().numpy()
    finally:
        np.seterr(**saved)
    c_idx = np.flatnonzero(x)
    errors = {"cords": objective(A, b, c_idx, x[c_idx], lam)}
    for criterion in ("gain", "correlation"):
        idx, w = orthogonal_matching_pursuit(A, b, k, lam=lam, criterion=criterion)
        assert len(np.unique(idx)) == k and (w >= 0).all()
        errors[criterion] = objective(A, b, idx, w, lam)
    assert errors["gain"] <= errors["cords"] * 1.001, errors
    assert errors["gain"] <= errors["correlation"] * 1.001, errors
