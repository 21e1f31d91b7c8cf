"""The search on an orthonormal basis (:mod:`sksubset.omp._basis`): degenerate atoms, blocks
without a ridge, and the gain rule's updated correlations and projections."""

import numpy as np
import pytest
import torch
from omp_reference import gradient_like, solve

from sksubset.omp import DenseAtoms
from sksubset.omp._basis import BasisSearch
from sksubset.omp._options import SearchOptions


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("k", [8, 7, 4])
def test_duplicated_atom_lam0(positive, k):
    rng = np.random.default_rng(5)
    n, d = 8, 20
    A = rng.normal(size=(n, d))
    A[1] = A[0]
    b = A[0] + 0.7 * A[5] + rng.normal(size=d)  # not in the span: no early stop
    if k == n:  # the copy adds no new direction: 7 rows come back, and a warning
        with pytest.warns(UserWarning, match="7 of 8 rows: no new independent row"):
            res = solve(A, b, k, lam=0.0, positive=positive)
        assert res.shortfall == "span"
    else:
        res = solve(A, b, k, lam=0.0, positive=positive)
    idx, w = res.indices.numpy(), res.weights.numpy()
    assert len(idx) == min(k, n - 1)
    assert len(np.unique(idx)) == len(idx)
    assert np.isfinite(w).all()
    if positive:
        assert (w >= 0).all()
    # the two copies never both carry weight
    on = {int(i) for i, wi in zip(idx, w) if wi != 0}
    assert not {0, 1} <= on
    assert np.isfinite(res.error) and 0 <= res.error <= 1


def test_block_without_ridge_and_duplicate_atoms():
    """lam=0 and atoms repeated within a block: the one-by-one fallback bans the copies."""
    A, b = gradient_like(7, n=10, d=6)
    A = np.vstack([A, A])  # every atom twice: a block can hold both copies
    res = solve(A, b, 5, lam=0.0, per_step=4)
    idx = res.indices.numpy()
    assert len(idx) == 5 == len(set(idx)) and len(set(idx % 10)) == 5


@pytest.mark.parametrize("per_step", [1, 3])
def test_gain_updates_match_a_fresh_computation(per_step):
    """After 40 atoms (past the refresh every 32), the correlations and projections kept
    up to date step by step are those computed afresh from the residual and the basis."""
    A, b = gradient_like(8, n=120, d=60)
    At = torch.as_tensor(A)
    search = BasisSearch(DenseAtoms(At[None]), torch.as_tensor(b)[None], [40],
                         torch.ones(1, 120, dtype=torch.bool), SearchOptions(per_step=per_step))
    search._grow()
    t = search.pos_h[0]
    assert t == 40
    Q = search.Q[0, :t]
    torch.testing.assert_close(search.c[0], At @ search.r[0], rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(search.proj2[0], ((At @ Q.T) ** 2).sum(1), rtol=1e-8, atol=1e-8)
    # the data parts' coordinates: the residual is the target less its projection on the basis
    torch.testing.assert_close(search.r[0], search.b[0] - search.z[0, :t] @ Q)
