"""Tests of :mod:`sksubset._training._split` (the pool and the hold-out, split once)."""

import numpy as np
import pytest
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split

from sksubset._training._split import holdout_size, split


@pytest.mark.parametrize("valid_size,n,expected", [
    (None, 100, 0), (0.2, 100, 20), (0.25, 10, 3), (0.01, 50, 1), (7, 100, 7), (1, 100, 1),
])
def test_holdout_size(valid_size, n, expected):
    assert holdout_size(valid_size, n) == expected


def test_valid_size_holds_out_a_stratified_seeded_share():
    y = np.repeat([0, 1, 2, 3], 25)
    pool, valid = split(0.2, None, None, y, np.random.RandomState(0))
    assert len(valid) == 20 and len(pool) == 80
    assert np.array_equal(np.sort(np.r_[pool, valid]), np.arange(100))
    assert np.all(np.diff(pool) > 0) and np.all(np.diff(valid) > 0)
    np.testing.assert_array_equal(np.bincount(y[valid]), [5, 5, 5, 5])
    again = split(0.2, None, None, y, np.random.RandomState(0))
    np.testing.assert_array_equal(again[1], valid)


@pytest.mark.parametrize("valid_size", [3, 97, 0.02])
def test_a_class_missing_from_either_side_is_refused(valid_size):
    y = np.repeat([0, 1, 2, 3], 25)
    with pytest.raises(ValueError, match=f"valid_size={valid_size} leaves"):
        split(valid_size, None, None, y, np.random.RandomState(0))


def test_the_nets_train_split_applies_once_without_valid_size():
    X = np.zeros((40, 2), dtype=np.float32)
    y = np.repeat([0, 1], 20)
    pool, valid = split(None, ValidSplit(4, stratified=True), X, y, np.random.RandomState(0))
    assert len(pool) == 30 and len(valid) == 10
    assert not set(pool) & set(valid)
    pool, valid = split(None, None, X, y, np.random.RandomState(0))
    np.testing.assert_array_equal(pool, np.arange(40))
    assert valid is None


def test_a_one_member_class_is_named_with_valid_size():
    y = np.r_[np.repeat([0, 1], 20), 2]  # class 2: one example
    with pytest.raises(ValueError, match=r"valid_size=0.2 cannot hold out a part stratified by "
                                         r"class.*least populated class.*at least 2 examples"):
        split(0.2, None, None, y, np.random.RandomState(0))


def test_predefined_split_keeps_every_row_for_training():
    X = np.zeros((40, 2), dtype=np.float32)
    valid = Dataset(X[:5], np.zeros(5))
    pool, held = split(None, predefined_split(valid), X, None, np.random.RandomState(0))
    np.testing.assert_array_equal(pool, np.arange(40))
    assert held is valid
