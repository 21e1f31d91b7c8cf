"""Tests of :mod:`sksubset._training._dataset` (the current subset and its weights)."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sksubset._training._dataset import SubsetDataset


# ---------------------------------------------------------------------------
# SubsetDataset
# ---------------------------------------------------------------------------
@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g)
    y = torch.arange(10) % 3
    return X, y


def test_dataset_defaults_to_everything(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    assert len(ds) == 10
    for i in (0, 4, 9):
        x, (t, w, row) = ds[i]
        assert torch.equal(x, X[i]) and t == y[i] and float(w) == 1.0 and int(row) == i


def test_dataset_subset_swap(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([7, 2, 5], [1.0, 2.0, 3.0])
    assert len(ds) == 3
    items = [ds[i] for i in range(3)]
    # listed in the order of X, each weight with its row
    for (x, (t, w, row)), j, wj in zip(items, [2, 5, 7], [1.0, 1.5, 0.5]):
        assert torch.equal(x, X[j]) and int(row) == j
        assert int(t) == int(y[j])
        assert float(w) == pytest.approx(wj)
    assert ds.weights.dtype == torch.float32
    # swap again, to a different size, without weights
    ds.set_subset(np.array([1, 9]), None)
    assert len(ds) == 2
    x, (t, w, row) = ds[1]
    assert torch.equal(x, X[9]) and float(w) == 1.0 and int(row) == 9
    with pytest.raises(IndexError):
        ds[2]


def test_dataset_weights_mean_one_ratios_kept(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 40.0, size=6)
    ds.set_subset(np.arange(6), w)
    got = ds.weights.double().numpy()
    assert got.mean() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(got / got[0], w / w[0], rtol=1e-6)
    # zero weights stay zero (ratio kept), the others are rescaled
    ds.set_subset([0, 1, 2, 3], [0.0, 1.0, 0.0, 3.0])
    np.testing.assert_allclose(ds.weights.numpy(), [0.0, 1.0, 0.0, 3.0])


def test_dataset_all_zero_weights_fall_back_to_ones(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([0, 1, 2], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ds.weights.numpy(), [1.0, 1.0, 1.0])


def test_dataset_collates_for_a_loader(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([3, 4, 8, 0], [2.0, 2.0, 1.0, 3.0])
    xb, (yb, wb, rows) = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert torch.equal(xb, X[[0, 3, 4, 8]])
    assert torch.equal(rows, torch.tensor([0, 3, 4, 8]))
    assert torch.equal(yb, y[[0, 3, 4, 8]])
    torch.testing.assert_close(wb, torch.tensor([1.5, 1.0, 1.0, 0.5]))


def test_an_unshuffled_loader_mixes_the_classes_of_a_per_class_selection(xy):
    """Per-class selectors return rows grouped by class; skorch's default loader does not
    shuffle, so the subset is listed in the order of X, not a class at a time."""
    X, y = xy
    ds = SubsetDataset(X, y)
    grouped = np.concatenate([np.flatnonzero(y.numpy() == c) for c in range(3)])
    ds.set_subset(grouped, np.arange(1.0, 11.0))
    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch[1][0].tolist() == [0, 1, 2]
    assert batch[1][2].tolist() == [0, 1, 2]
