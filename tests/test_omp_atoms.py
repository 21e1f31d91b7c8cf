"""Dense, factored and sketched atoms (:mod:`sksubset.omp._atoms`)."""

import numpy as np
import pytest
import torch

from sksubset.omp import DenseAtoms, OuterProductAtoms, omp_batched, sketch


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


def test_factor_parts_agree_with_dense():
    """The Cholesky search's products on parts: factors and their expansion agree."""
    g = torch.Generator().manual_seed(3)
    E, H = torch.randn(2, 30, 3, generator=g), torch.randn(2, 30, 5, generator=g)
    F = OuterProductAtoms(E, H)
    D = DenseAtoms((E.unsqueeze(-1) * H.unsqueeze(-2)).flatten(-2))
    assert F.part_widths == (3, 5) and D.part_widths == (15,)
    ar = torch.arange(2).unsqueeze(1)
    Ip, Jp = torch.tensor([[0, 4, 7], [2, 9, 1]]), torch.tensor([[5, 6], [29, 0]])
    PF, QF, PD, QD = F.parts(ar, Ip), F.parts(ar, Jp), D.parts(ar, Ip), D.parts(ar, Jp)
    torch.testing.assert_close(F.parts_cross(PF, QF), D.parts_cross(PD, QD))
    w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(F.parts_combine(PF, w), D.parts_combine(PD, w))
    b = torch.randn(2, 15, generator=g, dtype=torch.float64)
    torch.testing.assert_close(F.parts_dot(PF, b), D.parts_dot(PD, b))
    torch.testing.assert_close(D.parts_dot(PD, b), (D.rows(ar, Ip) @ b.unsqueeze(2)).squeeze(2))


def test_only_known_atoms_are_sketched():
    with pytest.raises(TypeError, match="cannot sketch"):
        sketch(object(), torch.zeros(1, 3), 2)


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
