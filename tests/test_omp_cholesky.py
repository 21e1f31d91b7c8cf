"""The correlation rule's search on a Cholesky factor (:mod:`sksubset.omp._cholesky`)."""

import numpy as np
import pytest
import torch
from omp_reference import gradient_like, reference_block_greedy

from sksubset.omp import DenseAtoms, OuterProductAtoms, omp_batched
from sksubset.omp._basis import BasisSearch
from sksubset.omp._cholesky import CholeskySearch
from sksubset.omp._options import SearchOptions


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
    search (BasisSearch) returns, to rounding."""
    factors, dense, b, valid = factor_problems(seed)
    options = SearchOptions(positive=positive, criterion="correlation", check_every=4,
                            per_step=s)
    ref = BasisSearch(factors, b, [30, 17, 25], valid, options).solve()
    for atoms in (factors, dense):
        got = CholeskySearch(atoms, b, [30, 17, 25], valid, options).solve()
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
    args = ([20], torch.ones(1, 40, dtype=torch.bool),
            SearchOptions(lam=1e-8, tol=1e-6, criterion="correlation", check_every=1, per_step=4))
    ref = BasisSearch(DenseAtoms(At), b, *args).solve()[0]
    got = CholeskySearch(DenseAtoms(At), b, *args).solve()[0]
    assert got.converged and ref.converged
    assert got.indices.tolist() == ref.indices.tolist() and len(got.indices) < 20


def test_every_candidate_used():
    """k = the number of valid candidates, not a multiple of the block: exactly k atoms."""
    factors, _, b, valid = factor_problems(1, n=30)
    ks = valid.sum(1).tolist()
    res = omp_batched(factors, b, ks, valid=valid, criterion="correlation", per_step=7)
    for r, k, v in zip(res, ks, valid):
        assert sorted(r.indices.tolist()) == torch.nonzero(v).squeeze(1).tolist()
        assert len(r.indices) == k


def test_only_the_correlation_rule_with_a_ridge():
    factors, _, b, valid = factor_problems(0)
    for criterion, lam in (("gain", 0.5), ("correlation", 0.0)):
        with pytest.raises(ValueError, match="correlation"):
            CholeskySearch(factors, b, [5, 5, 5], valid,
                           SearchOptions(lam=lam, criterion=criterion, check_every=4))
