"""Cheaper greedy searches (sksubset.omp_block): blocks of atoms per step, sketched search."""

import itertools

import numpy as np
import pytest
import torch
from test_omp import objective, reference_greedy, ridge_nnls

from sksubset.omp import DenseAtoms, OuterProductAtoms, _BatchedOMP, omp_batched
from sksubset.omp_block import BlockOMP, sketch


def reference_block_greedy(A, b, k, lam, s, criterion="gain"):
    """Textbook generalized OMP (float64 numpy, unconstrained weights, ``positive=False``):
    each step appends the ``s`` free atoms of largest absolute score, scored as one step of
    :func:`reference_greedy`."""
    A = np.asarray(A, dtype=np.float64)
    S, w = [], np.zeros(0)
    sq = (A * A).sum(1) + lam
    while len(S) < k:
        r = b - (w @ A[S] if S else 0.0)
        c = A @ r
        if criterion == "gain" and S:
            As = A[S]
            g = As @ A.T
            proj = (g * np.linalg.solve(As @ As.T + lam * np.eye(len(S)), g)).sum(0)
            score = c / np.sqrt(np.maximum(sq - proj, lam))
        elif criterion == "gain":
            score = c / np.sqrt(sq)
        else:
            score = c.copy()
        score = np.abs(score)
        score[S] = -np.inf
        S += [int(j) for j in np.argsort(-score, kind="stable")[:min(s, k - len(S))]]
        As = A[S]
        w = np.linalg.solve(As @ As.T + lam * np.eye(len(S)), As @ b)
    return S, w


def gradient_like(seed, n=40, d=12):
    rng = np.random.default_rng(seed)
    A = rng.normal(0.4, 1.0, (n, d)) * np.exp(rng.normal(0, 0.5, (n, 1)))
    return A, A.sum(0)


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
@pytest.mark.parametrize("s", [2, 3, 5])
@pytest.mark.parametrize("seed", range(3))
def test_block_steps_match_the_textbook_generalized_omp(criterion, s, seed):
    A, b = gradient_like(seed)
    k = 11  # not a multiple of s: the last step takes what is left
    res = omp_batched(torch.as_tensor(A)[None], torch.as_tensor(b)[None], [k], lam=0.5,
                      positive=False, criterion=criterion, per_step=s, check_every=2)[0]
    S, w = reference_block_greedy(A, b, k, 0.5, s, criterion)
    # within a step the order is by score; compare steps as sets
    got = res.indices.tolist()
    for i in range(0, k, s):
        assert set(got[i:i + s]) == set(S[i:i + s])
    np.testing.assert_allclose(res.weights.numpy(), w[[S.index(j) for j in got]], rtol=1e-6,
                               atol=1e-8)


def test_one_atom_per_step_is_the_exact_search():
    A, b = gradient_like(4, n=60, d=15)
    At, bt = torch.as_tensor(A, dtype=torch.float32)[None], torch.as_tensor(b)[None]
    args = ([9], torch.ones(1, 60, dtype=torch.bool), 0.5, 1e-10, True, "gain", 8, 32)
    exact = _BatchedOMP(DenseAtoms(At), bt, *args).solve()[0]
    block = BlockOMP(DenseAtoms(At), bt, *args, per_step=1).solve()[0]
    assert exact.indices.tolist() == block.indices.tolist()
    np.testing.assert_allclose(block.weights.numpy(), exact.weights.numpy(), rtol=1e-10)
    S, _ = reference_greedy(A, b, 9, 0.5, positive=False)
    res = solve_np(A, b, 9, positive=False, per_step=1)
    assert res.indices.tolist() == S


def solve_np(A, b, k, **kw):
    kw.setdefault("lam", 0.5)
    return omp_batched(torch.as_tensor(A)[None], torch.as_tensor(b, dtype=torch.float64)[None],
                       [k], **kw)[0]


@pytest.mark.parametrize("opts", [dict(per_step=3), dict(per_step=2, criterion="correlation"),
                                  dict(sketch=6), dict(sketch=4, per_step=2)])
def test_approximations_are_honest_and_bounded(opts):
    """Nonnegative, exactly k distinct atoms, the error reported is the exact one, weights the
    exact refit; the objective within 2.5x of the exact search with the same rule on average
    over six problems of 11 atoms (measured: 1.2-2.2x here, where a block or a halved sketch
    is a coarse step; exhaustive search bounds the exact search at 1.09x)."""
    ratios = []
    for seed in range(6):
        A, b = gradient_like(seed, n=11, d=8)
        k = 4
        res = solve_np(A, b, k, **opts)
        idx, w = res.indices.numpy(), res.weights.numpy()
        assert len(idx) == k == len(set(idx)) and (w >= 0).all()
        obj = objective(A, b, idx, w, 0.5)
        assert res.error == pytest.approx(obj / (b @ b), rel=1e-8)
        if (w > 0).all():  # exact non-negative refit on the chosen support
            assert obj == pytest.approx(ridge_nnls(A, b, idx, 0.5)[1], rel=1e-6)
        exact = solve_np(A, b, k, criterion=opts.get("criterion", "gain"))
        ratios.append(obj / objective(A, b, exact.indices.numpy(), exact.weights.numpy(), 0.5))
        best = min(ridge_nnls(A, b, S, 0.5)[1] for S in itertools.combinations(range(11), k))
        assert obj >= best * (1 - 1e-9)  # nothing beats exhaustive search
    assert np.mean(ratios) <= 2.5


def test_block_without_ridge_and_duplicate_atoms():
    """lam=0 and atoms repeated within a block: the one-by-one fallback bans the copies."""
    A, b = gradient_like(7, n=10, d=6)
    A = np.vstack([A, A])  # every atom twice: a block can hold both copies
    res = solve_np(A, b, 5, lam=0.0, per_step=4)
    idx = res.indices.numpy()
    assert len(idx) == 5 == len(set(idx)) and len(set(idx % 10)) == 5


def test_factor_products_agree_with_dense():
    g = torch.Generator().manual_seed(0)
    E, H = torch.randn(2, 30, 3, generator=g), torch.randn(2, 30, 5, generator=g)
    F = OuterProductAtoms(E, H)
    D = DenseAtoms((E.unsqueeze(-1) * H.unsqueeze(-2)).flatten(-2))
    V = torch.randn(2, 4, 15, generator=g, dtype=torch.float64)
    torch.testing.assert_close(F.correlate_many(V), D.correlate_many(V), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(F.correlate_many(V)[:, :, 1], D.correlate(V[:, 1]), rtol=1e-4,
                               atol=1e-4)
    rows, cols = torch.tensor([3, 7]), torch.tensor([1, 3, 29])
    torch.testing.assert_close(F.gram(1, rows, cols), D.gram(1, rows, cols))
    torch.testing.assert_close(F.dot(1, rows, V[1, 0]), D.dot(1, rows, V[1, 0]))


@pytest.mark.parametrize("factored", [False, True])
def test_sketch_keeps_inner_products_in_expectation(factored):
    g = torch.Generator().manual_seed(1)
    E, H = torch.randn(1, 200, 3, generator=g), torch.randn(1, 200, 40, generator=g)
    D = (E.unsqueeze(-1) * H.unsqueeze(-2)).flatten(-2)
    atoms = OuterProductAtoms(E, H) if factored else DenseAtoms(D)
    b = D.double().sum(1)
    Gs = []
    for seed in range(200):
        sa, sb = sketch(atoms, b, 8, seed)
        rows = sa.rows(0, torch.arange(5))
        Gs.append(torch.cat([rows @ rows.T, (rows @ sb[0]).unsqueeze(1)], 1))
    exact = D[0, :5].double()
    ref = torch.cat([exact @ exact.T, (exact @ b[0]).unsqueeze(1)], 1)
    mean = torch.stack(Gs).mean(0)
    assert float((mean - ref).norm() / ref.norm()) < 0.1  # the mean of 200 unbiased sketches


def test_invalid_options():
    A, b = gradient_like(0)
    for bad in (dict(per_step=0), dict(sketch=0)):
        with pytest.raises(ValueError, match="per_step and sketch"):
            solve_np(A, b, 3, **bad)
    with pytest.raises(TypeError, match="cannot sketch"):
        sketch(object(), torch.zeros(1, 3), 2)
