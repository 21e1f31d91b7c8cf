"""``per_step="auto"``: atoms a step set from each problem's budget
(:func:`sksubset.omp._options.atoms_per_step`)."""

import numpy as np
import pytest
import torch

from sksubset import GradMatchSelector
from sksubset.omp import OuterProductAtoms, omp_batched
from sksubset.omp._options import (
    AUTO_MIN_STEPS,
    SearchOptions,
    atoms_per_step,
)
from sksubset.omp._search import GreedySearch


def _factors(B, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    E = torch.randn(B, n, 10, generator=g, dtype=torch.float64)
    H = torch.randn(B, n, 16, generator=g, dtype=torch.float64).relu()
    atoms = OuterProductAtoms(E, H)
    b = (E.unsqueeze(3) * H.unsqueeze(2)).flatten(2).sum(1)
    return atoms, b


def test_the_rule():
    ks = [1, 5, 15, 16, 31, 32, 48, 255, 256, 300, 600, 1800]
    assert atoms_per_step("auto", ks) == [1, 1, 1, 1, 1, 2, 3, 15, 16, 18, 37, 112]
    assert atoms_per_step(4, ks) == [4] * len(ks)
    for k, w in zip(range(1, 5000), atoms_per_step("auto", range(1, 5000))):
        steps = -(-k // w)  # greedy steps to choose k atoms
        assert w >= 1 and min(k, AUTO_MIN_STEPS) <= steps < 2 * AUTO_MIN_STEPS


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_every_budget_is_chosen_over_a_minimum_of_steps(monkeypatch, criterion):
    """Batched problems with unequal budgets step together, each at its own width."""
    ks = [5, 20, 40, 300]
    atoms, b = _factors(len(ks), 400)
    steps = [0] * len(ks)
    step = GreedySearch._step

    def counting(self, width):
        before = self.pos.tolist()
        step(self, width)
        for i, (p0, p1) in enumerate(zip(before, self.pos.tolist())):
            steps[i] += p1 > p0
    monkeypatch.setattr(GreedySearch, "_step", counting)
    res = omp_batched(atoms, b, ks, criterion=criterion, per_step="auto", positive=False)
    assert [len(r.indices) for r in res] == ks
    assert steps == [5, 20, 20, 17]  # widths 1, 1, 2 and 18
    assert all(s >= min(k, AUTO_MIN_STEPS) for s, k in zip(steps, ks))
    for r in res:
        assert len(set(r.indices.tolist())) == len(r.indices)


@pytest.mark.parametrize("criterion", ["gain", "correlation"])
def test_auto_is_a_sixteenth_of_large_budgets_and_1_for_small(criterion):
    atoms, b = _factors(2, 400, seed=1)
    for ks, fixed in (([256, 271], 16), ([320, 335], 20), ([5, 31], 1)):
        auto = omp_batched(atoms, b, ks, criterion=criterion, per_step="auto")
        ref = omp_batched(atoms, b, ks, criterion=criterion, per_step=fixed)
        for r, q in zip(auto, ref):
            assert r.indices.tolist() == q.indices.tolist()
            np.testing.assert_allclose(r.weights.numpy(), q.weights.numpy())


def test_the_selector_passes_auto_to_the_solver():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(600, 12)) + 0.5
    y = np.repeat([0, 1], 300)
    auto = GradMatchSelector(budget=40, criterion="correlation", per_step="auto").fit(G, y)
    one = GradMatchSelector(budget=40, criterion="correlation", per_step=1).fit(G, y)
    assert auto.indices_.tolist() == one.indices_.tolist()  # 20 a class: one atom a step


@pytest.mark.parametrize("bad", [0, -1, 2.5, "fast", None])
def test_per_step_is_auto_or_a_positive_int(bad):
    atoms, b = _factors(1, 50)
    with pytest.raises(ValueError, match="per_step"):
        omp_batched(atoms, b, [5], per_step=bad)
    with pytest.raises(ValueError, match="per_step"):
        SearchOptions(per_step=bad)
    with pytest.raises(ValueError, match="per_step"):
        GradMatchSelector(per_step=bad).fit(np.ones((20, 3)))
    assert SearchOptions(per_step="auto").per_step == "auto"
