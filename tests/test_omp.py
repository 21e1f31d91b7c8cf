"""The public functions of :mod:`sksubset.omp`: checks, agreement with scikit-learn and CORDS,
the weak-submodularity bound, precision and input types, and the choice of search."""

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omp_reference import gradient_like, objective, ridge_nnls, solve, well_conditioned
from sklearn.datasets import load_digits
from sklearn.linear_model import orthogonal_mp
from skorch import NeuralNetClassifier

from sksubset.gradients import last_layer, sample_gradients
from sksubset.omp import OuterProductAtoms, omp_batched, orthogonal_matching_pursuit
from sksubset.omp._basis import BasisSearch
from sksubset.omp._cholesky import Breakdown, CholeskySearch
from sksubset.omp._options import SearchOptions
from sksubset.omp._scale import mean_sqnorm


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


@pytest.mark.parametrize("A,b,k,kwargs,error,match", [
    (_A_NAN, _A.sum(0), 3, {}, ValueError, "A contains NaN or infinite"),
    (_A, np.r_[_A.sum(0)[:3], np.inf], 3, {}, ValueError, "b contains NaN or infinite"),
    (_A, _A.sum(0), -1, {}, ValueError, "'n_nonzero'"),
    (_A, _A.sum(0), 0, {}, ValueError, "'n_nonzero'"),
    (_A, _A.sum(0), 9, {}, ValueError, r"n_nonzero=9 is larger than the number of atoms"),
    (_A, _A.sum(0), 3, {"lam": -0.5}, ValueError, "'lam'"),
    (_A, _A.sum(0), 3, {"tol": -1.0}, ValueError, "'tol'"),
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


def test_deterministic():
    A, b = well_conditioned()
    i1, w1 = orthogonal_matching_pursuit(A, b, 12)
    i2, w2 = orthogonal_matching_pursuit(A, b, 12)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(w1, w2)


def test_float32_and_float64_agree():
    A, b = well_conditioned()
    i32, w32 = orthogonal_matching_pursuit(A, b, 12, dtype=torch.float32)
    i64, w64 = orthogonal_matching_pursuit(A, b, 12, dtype=torch.float64)
    np.testing.assert_array_equal(i32, i64)
    assert w32.dtype == np.float64 and w64.dtype == np.float64
    np.testing.assert_allclose(w32, w64, rtol=1e-4)


def test_numpy_and_torch_inputs_agree():
    A, b = well_conditioned()
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


def test_zero_atom_is_never_useful():
    rng = np.random.default_rng(6)
    A = rng.normal(size=(10, 6))
    A[4] = 0.0
    b = A.sum(0)
    with pytest.warns(UserWarning, match="0 of 5 rows"):  # every candidate below the row
        idx, w = orthogonal_matching_pursuit(A, b, 5, lam=0.0, positive=False)
    assert 4 not in idx.tolist()
    assert np.isfinite(w).all()


def test_invalid_options():
    A, b = gradient_like(0)
    for bad in (dict(per_step=0), dict(sketch=0)):
        with pytest.raises(ValueError, match="per_step and sketch"):
            solve(A, b, 3, **bad)


def test_breakdown_falls_back_to_the_basis(monkeypatch):
    g = torch.Generator().manual_seed(2)
    E = torch.randn(3, 120, 4, generator=g, dtype=torch.float64)
    H = torch.randn(3, 120, 7, generator=g, dtype=torch.float64).relu()
    valid = torch.rand(3, 120, generator=g) > 0.1
    factors = OuterProductAtoms(E, H)
    b = ((E.unsqueeze(3) * H.unsqueeze(2)).flatten(2) * valid.unsqueeze(2)).sum(1)
    # the ridge omp_batched solves with: its default relative lam times the atoms' mean
    options = SearchOptions(lam=0.05 * mean_sqnorm(factors, valid), criterion="correlation",
                            check_every=8, per_step=3)
    ref = BasisSearch(factors, b, [9, 9, 9], valid, options).solve()

    def fail(*args, **kwargs):
        raise Breakdown("forced")
    monkeypatch.setattr(CholeskySearch, "extend", fail)
    with pytest.warns(UserWarning, match="Cholesky search broke down"):
        res = omp_batched(factors, b, [9, 9, 9], valid=valid, criterion="correlation",
                          per_step=3)
    assert [r.indices.tolist() for r in res] == [r.indices.tolist() for r in ref]
    assert all(r.fallback for r in res) and not any(r.fallback for r in ref)


def _load_cords_omp():
    spec = importlib.util.find_spec("cords")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("CORDS is not installed (this test compares the OMP with CORDS's own solver)")
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
