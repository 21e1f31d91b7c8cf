"""Batched NNLS on the normal equations (:mod:`sksubset.omp._nnls`): pivots from one factor,
or anew."""

import numpy as np
import pytest
import torch
from omp_reference import relative, ridge_nnls
from scipy.optimize import nnls

from sksubset.omp._nnls import _solve_out, masked_solve, nnls_gram


@pytest.mark.parametrize("seed", range(5))
def test_nnls_gram_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    B, P, m_rows = 5, 8, 12
    active = [8, 6, 3, 1, 5]
    G = torch.as_tensor(rng.normal(size=(B, P, P)) * 50)  # garbage outside the mask
    G = G + G.transpose(1, 2)
    h = torch.as_tensor(rng.normal(size=(B, P)) * 50)
    mask = torch.zeros(B, P, dtype=torch.bool)
    refs = []
    for i, m in enumerate(active):
        pos = np.sort(rng.choice(P, size=m, replace=False))  # mask need not be a prefix
        M = rng.normal(size=(m_rows, m))
        c = rng.normal(size=m_rows)
        Gi, hi = M.T @ M, M.T @ c
        G[i][np.ix_(pos, pos)] = torch.as_tensor(Gi)
        h[i, pos] = torch.as_tensor(hi)
        mask[i, pos] = True
        refs.append((pos, nnls(M, c)[0]))
    w = nnls_gram(G, h, mask)
    assert w.shape == (B, P)
    assert (w >= 0).all()
    for i, (pos, ref) in enumerate(refs):
        np.testing.assert_allclose(w[i, pos].numpy(), ref, atol=1e-9, rtol=1e-7)
        off = np.setdiff1d(np.arange(P), pos)
        np.testing.assert_array_equal(w[i, off].numpy(), 0.0)
    # a test that really exercises the constraint
    assert any((ref == 0).any() for _, ref in refs)


def test_nnls_gram_ridge_system():
    rng = np.random.default_rng(9)
    A = rng.normal(size=(7, 5))  # more atoms than dimensions: needs the ridge
    b = rng.normal(size=5)
    lam = 0.3
    G = torch.as_tensor(A @ A.T + lam * np.eye(7))[None]
    h = torch.as_tensor(A @ b)[None]
    w = nnls_gram(G, h, torch.ones(1, 7, dtype=torch.bool))[0].numpy()
    w_ref, _ = ridge_nnls(A, b, range(7), relative(A, lam))  # nnls_gram's ridge is absolute
    np.testing.assert_allclose(w, w_ref, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_pivots_from_one_factor_solve_the_restricted_systems(seed):
    """x = x0 + Z mu (module docstring) is the solution on the free set, its dual is G x - h."""
    rng = np.random.default_rng(seed)
    B, P = 3, 24
    M = rng.normal(size=(B, 30, P))
    G = torch.as_tensor(M.transpose(0, 2, 1) @ M + 0.5 * np.eye(P))
    h = torch.as_tensor(rng.normal(size=(B, P)))
    mask = torch.as_tensor(rng.random((B, P)) < 0.9)
    out = mask & torch.as_tensor(rng.random((B, P)) < 0.2)
    out[2] = False  # a problem with an empty out set
    L = torch.linalg.cholesky(torch.where(mask.unsqueeze(1) & mask.unsqueeze(2), G, 0.0)
                              + torch.diag_embed((~mask).double()))
    x0 = torch.cholesky_solve(torch.where(mask, h, 0.0).unsqueeze(2), L).squeeze(2)
    x, y = _solve_out(L, x0, out)
    x_ref, y_ref = masked_solve(G, h, mask & ~out)
    torch.testing.assert_close(x, x_ref, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(torch.where(out, y, 0.0), torch.where(out, y_ref, 0.0), rtol=1e-9,
                               atol=1e-11)
    assert (y[~out] == 0).all()


@pytest.mark.parametrize("seed", range(6))
def test_large_systems_with_few_zeros_match_scipy(seed):
    """P = 64 with a few weights at zero: the pivots come from the first factor."""
    rng = np.random.default_rng(seed)
    B, P = 4, 64
    refs, G, h = [], [], []
    for _ in range(B):
        M = rng.normal(size=(80, P)) + 0.3
        c = M @ (np.abs(rng.normal(size=P)) * (rng.random(P) < 0.95)) + rng.normal(size=80)
        G.append(M.T @ M)
        h.append(M.T @ c)
        refs.append(nnls(M, c)[0])
    w = nnls_gram(torch.as_tensor(np.stack(G)), torch.as_tensor(np.stack(h)),
                  torch.ones(B, P, dtype=torch.bool))
    for i, ref in enumerate(refs):
        np.testing.assert_allclose(w[i].numpy(), ref, atol=1e-8, rtol=1e-6)
    assert any(0 < (ref == 0).sum() <= P // 8 for ref in refs)


def test_a_given_factor_gives_the_same_solution():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(2, 40, 16)) + 0.2
    G = torch.as_tensor(M.transpose(0, 2, 1) @ M)
    h = torch.as_tensor(rng.normal(size=(2, 16)) * 10)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[1, 12:] = False
    Gm = (torch.where(mask.unsqueeze(1) & mask.unsqueeze(2), G, 0.0)
          + torch.diag_embed((~mask).double()))
    w = nnls_gram(G, h, mask, factor=torch.linalg.cholesky(Gm))
    torch.testing.assert_close(w, nnls_gram(G, h, mask), rtol=1e-9, atol=1e-11)
    assert (w == 0).any() and (w[1, 12:] == 0).all()
