"""sksubset._utils.budget: a budget as a number of rows, split over groups."""

import numpy as np
import pytest

from sksubset._utils.budget import n_batches_for, resolve_budget, split_budget


@pytest.mark.parametrize("k,sizes,expected", [
    (20, [60, 30, 10], [12, 6, 2]),
    (5, [7, 5, 3], [2, 2, 1]),          # largest remainder goes to the middle class
    (11, [1, 1, 10], [1, 1, 9]),
    (10, [2, 3], [2, 3]),               # k larger than the total: everything
    (3, [0, 5], [0, 3]),                # an empty group gets nothing
    (50, [1, 100], [1, 49]),            # a class of one keeps a slot
    (10, [1, 2, 97], [1, 1, 8]),        # every class present gets one when k >= 3
    (2, [1, 2, 97], [0, 0, 2]),         # k < number of classes: proportional only
    (1, [4, 4, 4], [1, 0, 0]),          # ties: stable order
])
def test_split_budget_cases(k, sizes, expected):
    parts = split_budget(k, sizes)
    np.testing.assert_array_equal(parts, expected)


def test_split_budget_properties():
    rng = np.random.default_rng(0)
    for _ in range(300):
        sizes = rng.integers(0, 40, size=rng.integers(1, 8))
        if sizes.sum() == 0:
            continue
        k = int(rng.integers(1, sizes.sum() + 10))
        parts = split_budget(k, sizes)
        total = int(sizes.sum())
        assert parts.sum() == min(k, total)
        assert (parts <= sizes).all() and (parts >= 0).all()
        quota = min(k, total) * sizes / total
        if k >= np.count_nonzero(sizes):
            assert (parts[sizes > 0] >= 1).all()  # every class present has a slot
        # proportional (largest remainder), up to the slots given to the smallest groups
        assert (np.abs(parts - quota) < 1 + np.count_nonzero(sizes)).all()
        if not (k >= np.count_nonzero(sizes) and (np.floor(quota)[sizes > 0] == 0).any()):
            assert (np.abs(parts - quota) < 1).all()


@pytest.mark.parametrize("budget,n,expected", [
    (0.1, 100, 10), (0.25, 10, 2), (1.0, 37, 37), (0.001, 10, 1), (5, 10, 5), (10, 10, 10),
    (0.5, 1, 1),
])
def test_resolve_budget(budget, n, expected):
    k = resolve_budget(budget, n)
    assert k == expected
    assert isinstance(k, int)


def test_resolve_budget_too_large():
    with pytest.raises(ValueError, match="budget"):
        resolve_budget(11, 10)


@pytest.mark.parametrize("budget", [True, False, np.True_])
def test_resolve_budget_refuses_booleans(budget):
    with pytest.raises(TypeError, match="boolean"):
        resolve_budget(budget, 10)


@pytest.mark.parametrize("budget,batch_size,expected", [(10, 4, 3), (8, 4, 2), (1, 64, 1)])
def test_n_batches_for(budget, batch_size, expected):
    assert n_batches_for(budget, batch_size) == expected
