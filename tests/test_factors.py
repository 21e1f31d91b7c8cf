"""The closed-form formulas on last-layer factors (:mod:`sksubset._factors`), by hand and
against autograd on the logits."""

import numpy as np
import pytest
import torch
from torch import nn

from sksubset._factors import (
    batch_gradients,
    class_gradients,
    dloss_dlogits,
    gradient_sum,
    random_batches,
    sample_gradients,
)


def test_random_batches_partition():
    rng = np.random.RandomState(3)
    batches = random_batches(23, 4, rng)
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 3]
    allidx = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(allidx), np.arange(23))
    assert not np.array_equal(allidx, np.arange(23))  # shuffled
    again = random_batches(23, 4, np.random.RandomState(3))
    np.testing.assert_array_equal(np.concatenate(again), allidx)
    assert len(random_batches(8, 8, rng)) == 1


def test_gradient_layout_by_hand():
    E = torch.tensor([[1., -2.], [0.5, 3.]])
    Hb = torch.tensor([[1., 10., 20.], [1., -1., 2.]])
    G = sample_gradients(E, Hb)
    expected = torch.tensor([[1., 10., 20., -2., -20., -40.],
                             [0.5, -0.5, 1., 3., -3., 6.]])
    assert torch.equal(G, expected)
    assert torch.equal(gradient_sum(E, Hb), expected.sum(0))
    assert torch.equal(class_gradients(E, Hb, [1, 0]), torch.tensor([[-2., -20., -40.],
                                                                      [0.5, -0.5, 1.]]))
    Gb = batch_gradients(E, Hb, [np.array([1]), np.array([0, 1])])
    assert torch.allclose(Gb, torch.stack([expected[1], expected.mean(0)]))


@pytest.mark.parametrize("weight", [None, [0.5, 2.0, 1.25]])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_dloss_dlogits_of_cross_entropy_is_autograds(weight, smoothing):
    """Per-example losses as torch weighs them (reduction="none"), class weights and label
    smoothing included."""
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64,
                    requires_grad=True)
    y = torch.tensor([0, 1, 2, 2, 1, 0, 1])
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    crit = nn.CrossEntropyLoss(weight=w, label_smoothing=smoothing, reduction="none")
    (ref,) = torch.autograd.grad(crit(z, y).sum(), z)
    torch.testing.assert_close(dloss_dlogits(z.detach(), z.detach(), y, crit, "logits"), ref)


def test_dloss_dlogits_of_nll_on_a_softmax_is_autograds():
    """skorch's NLLLoss on ``log(p + eps)``: the factor ``p_y / (p_y + eps)`` included."""
    z = torch.tensor([[9.0, -9.0, 0.0], [0.5, 0.2, -1.0]], requires_grad=True)
    y = torch.tensor([1, 0])
    p = torch.softmax(z, 1)
    crit = nn.NLLLoss(reduction="none")
    loss = crit(torch.log(p + torch.finfo(p.dtype).eps), y).sum()
    (ref,) = torch.autograd.grad(loss, z)
    e = dloss_dlogits(z.detach(), p.detach(), y, crit, "probabilities")
    torch.testing.assert_close(e, ref)
