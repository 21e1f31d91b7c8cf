"""The correlation rule's search on a Cholesky factor (sksubset.omp_cholesky)."""

import numpy as np
import pytest
import torch
from test_omp_block import gradient_like, reference_block_greedy

from sksubset import omp_cholesky
from sksubset.omp import DenseAtoms, OuterProductAtoms, omp_batched
from sksubset.omp_block import BlockOMP
from sksubset.omp_cholesky import Breakdown, CholeskyOMP


def factor_problems(seed, B=3, n=120, C=4, m=7):
    g = torch.Generator().manual_seed(seed)
    E = torch.randn(B, n, C, generator=g, dtype=torch.float64)
    H = torch.randn(B, n, m, generator=g, dtype=torch.float64).relu()
    valid = torch.rand(B, n, generator=g) > 0.1
    rows = (E.unsqueeze(3) * H.unsqueeze(2)).flatten(2)
    return OuterProductAtoms(E, H), DenseAtoms(rows), (rows * valid.unsqueeze(2)).sum(1), valid


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("s", [1, 3, 8])
@pytest.mark.parametrize("seed", range(3))
def test_same_atoms_and_weights_as_the_basis_search(seed, s, positive):
    """Factors and dense rows, masked candidates, unequal budgets: what the orthonormal-basis
    search (BlockOMP) returns, to rounding."""
    factors, dense, b, valid = factor_problems(seed)
    args = ([30, 17, 25], valid, 0.5, 1e-10, positive, "correlation", 4, 32)
    ref = BlockOMP(factors, b, *args, per_step=s).solve()
    for atoms in (factors, dense):
        got = CholeskyOMP(atoms, b, *args, per_step=s).solve()
        for r, c in zip(ref, got):
            assert c.indices.tolist() == r.indices.tolist()
            torch.testing.assert_close(c.weights, r.weights, rtol=1e-8, atol=1e-10)
            assert c.error == pytest.approx(r.error, rel=1e-8)


@pytest.mark.parametrize("s", [1, 2, 4])
def test_matches_the_textbook_generalized_omp(s):
    A, b = gradient_like(3, n=50, d=10)
    res = omp_batched(torch.as_tensor(A)[None], torch.as_tensor(b)[None], [12], lam=0.5,
                      positive=False, criterion="correlation", per_step=s, check_every=2)[0]
    S, w = reference_block_greedy(A, b, 12, 0.5, s, "correlation")
    got = res.indices.tolist()
    for i in range(0, 12, s):
        assert set(got[i:i + s]) == set(S[i:i + s])
    np.testing.assert_allclose(res.weights.numpy(), w[[S.index(j) for j in got]], rtol=1e-6)


def test_tolerance_stops_and_truncates_like_the_basis_search():
    """A target that three atoms almost reach: the early stop discards the extra block."""
    A, _ = gradient_like(5, n=40, d=30)
    b = torch.as_tensor(A[[2, 9, 17]].sum(0))[None]
    At = torch.as_tensor(A)[None]
    args = ([20], torch.ones(1, 40, dtype=torch.bool), 1e-8, 1e-6, True, "correlation", 1, 32)
    ref = BlockOMP(DenseAtoms(At), b, *args, per_step=4).solve()[0]
    got = CholeskyOMP(DenseAtoms(At), b, *args, per_step=4).solve()[0]
    assert got.converged and ref.converged
    assert got.indices.tolist() == ref.indices.tolist() and len(got.indices) < 20


def test_every_candidate_used():
    """k = the number of valid candidates, not a multiple of the block: exactly k atoms."""
    factors, _, b, valid = factor_problems(1, n=30)
    ks = valid.sum(1).tolist()
    res = omp_batched(factors, b, ks, valid=valid, criterion="correlation", per_step=7)
    for r, k, v in zip(res, ks, valid):
        assert sorted(r.indices.tolist()) == torch.nonzero(v).squeeze(1).tolist() and len(r.indices) == k


def test_only_the_correlation_rule_with_a_ridge():
    factors, _, b, valid = factor_problems(0)
    for criterion, lam in (("gain", 0.5), ("correlation", 0.0)):
        with pytest.raises(ValueError, match="correlation"):
            CholeskyOMP(factors, b, [5, 5, 5], valid, lam, 1e-10, True, criterion, 4, 32)


def test_breakdown_falls_back_to_the_basis(monkeypatch):
    factors, _, b, valid = factor_problems(2)
    ref = BlockOMP(factors, b, [9, 9, 9], valid, 0.5, 1e-10, True, "correlation", 8, 32,
                   per_step=3).solve()

    def fail(*args, **kwargs):
        raise Breakdown("forced")
    monkeypatch.setattr(omp_cholesky.CholeskyOMP, "_step", fail)
    res = omp_batched(factors, b, [9, 9, 9], valid=valid, criterion="correlation", per_step=3)
    assert [r.indices.tolist() for r in res] == [r.indices.tolist() for r in ref]
