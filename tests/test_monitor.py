"""Tests of :mod:`sksubset.monitor` (the classifier's own cases are in test_classifier.py)."""

import warnings

import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.history import History

from sksubset.exceptions import DivergenceError
from sksubset.monitor import (
    divergence_error,
    warn_if_below_one_batch,
    warn_if_unconverged,
)


@pytest.mark.parametrize("k,n,batch_size,warns", [
    (126, 1257, 128, True), (128, 1257, 128, True), (129, 1257, 128, False),
    (0, 1257, 128, False), (100, 100, 128, False),  # the whole data in one batch: no subset
])
def test_below_one_batch(k, n, batch_size, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_below_one_batch(k, n, batch_size)
    assert len(caught) == warns
    if warns:
        assert f"batch_size={batch_size}" in str(caught[0].message)


def test_divergence_error_names_where_what_and_the_remedies():
    err = divergence_error("epoch 3 of 9 (warm start on all the data)", "the loss became nan.",
                           0.5)
    assert isinstance(err, DivergenceError) and isinstance(err, FloatingPointError)
    assert str(err) == ("Training diverged in epoch 3 of 9 (warm start on all the data): the "
                        "loss became nan. Try a smaller learning rate (net lr=0.5).")
    assert "smaller scale" not in str(divergence_error("x", "y", 0.5, torch.ones(3, 2)))
    big = divergence_error("x", "y", 0.5, torch.tensor([[1.0, -3e12]]))
    assert str(big).endswith("or inputs on a smaller scale (the largest |X| is 3e+12).")
    assert "smaller scale" not in str(divergence_error("x", "y", 0.5, torch.empty(0, 2)))


def _history(first_batch, last_epoch):
    h = History()
    h.new_epoch()
    h.new_batch()
    h.record_batch("train_loss", first_batch)
    h.record("train_loss", first_batch)
    h.new_epoch()
    h.record("train_loss", last_epoch)
    return h


def test_unconverged_warns_above_twice_the_start():
    with pytest.warns(ConvergenceWarning, match=r"ended at 4.61 after 2 epochs, more than "
                                                r"twice its start \(2.3\)"):
        warn_if_unconverged(_history(2.3, 4.61), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warn_if_unconverged(_history(2.3, 4.6), 0.1)
        warn_if_unconverged(_history(2.3, 0.2), 0.1)
