"""Tests of :mod:`sksubset._training._loss` (torch's losses with per-example weights)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sksubset._training._loss import (
    WeightedCrossEntropyLoss,
    WeightedNLLLoss,
    weighted_criterion,
)


# ---------------------------------------------------------------------------
# weighted losses
# ---------------------------------------------------------------------------
@pytest.fixture
def logits_targets():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, 4, generator=g)
    t = torch.tensor([0, 3, 1, 1, 2, 0, 3, 2])
    w = torch.rand(8, generator=g) * 3
    return z, t, w


LOSSES = [
    (WeightedCrossEntropyLoss, torch.nn.CrossEntropyLoss, lambda z: z),
    (WeightedNLLLoss, torch.nn.NLLLoss, lambda z: torch.log_softmax(z, 1)),
]


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kwargs", [{}, {"weight": torch.tensor([0.5, 1.0, 2.0, 1.5])}],
                         ids=["plain", "class_weight"])
def test_plain_targets_give_the_base_loss(weighted, base, prep, reduction, kwargs,
                                          logits_targets):
    z, t, _ = logits_targets
    got = weighted(reduction=reduction, **kwargs)(prep(z), t)
    want = base(reduction=reduction, **kwargs)(prep(z), t)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_subset(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    per = base(reduction="none")(prep(z), t)
    crit = weighted(weighting="subset")
    torch.testing.assert_close(crit(prep(z), (t, w)), (w * per).mean())
    assert crit.reduction == "mean"  # the module's own attribute is never flipped
    torch.testing.assert_close(crit(prep(z), [t, w]), (w * per).mean())
    sub = {"weighting": "subset"}
    torch.testing.assert_close(weighted(reduction="sum", **sub)(prep(z), (t, w)), (w * per).sum())
    torch.testing.assert_close(weighted(reduction="none", **sub)(prep(z), (t, w)), w * per)
    # unit weights: the usual mean loss
    torch.testing.assert_close(crit(prep(z), (t, torch.ones(8))), base()(prep(z), t))
    # a float64 weight tensor is cast to the loss dtype
    out = crit(prep(z), (t, w.double()))
    assert out.dtype == torch.float32


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_batch(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    per = base(reduction="none")(prep(z), t)
    crit = weighted()
    assert crit.weighting == "batch"  # the default
    torch.testing.assert_close(crit(prep(z), (t, w)), (w * per).sum() / w.sum())
    # scale invariant: every weight times a constant gives the same loss
    for c in (1e-20, 0.37, 4.0, 1e20):
        torch.testing.assert_close(crit(prep(z), (t, w * c)), crit(prep(z), (t, w)))
    torch.testing.assert_close(weighted(reduction="sum")(prep(z), (t, w)),
                               (w * per).sum() * (len(w) / w.sum()))
    torch.testing.assert_close(weighted(reduction="none")(prep(z), (t, w)),
                               w * per * (len(w) / w.sum()))
    torch.testing.assert_close(crit(prep(z), (t, torch.ones(8))), base()(prep(z), t))
    assert crit(prep(z), (t, w.double())).dtype == torch.float32
    # the training set's (y, weight, row) targets: the row is ignored
    for reduction in ("mean", "sum", "none"):
        c = weighted(reduction=reduction)
        torch.testing.assert_close(c(prep(z), (t, w, torch.arange(8) + 50)), c(prep(z), (t, w)))


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_none_ignores_weights(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    for reduction in ("mean", "sum", "none"):
        got = weighted(weighting="none", reduction=reduction)(prep(z), (t, w))
        assert torch.equal(got, base(reduction=reduction)(prep(z), t))


def test_batch_weighting_all_zero_weights_give_zero_loss(logits_targets):
    z, t, _ = logits_targets
    z1 = z.clone().requires_grad_(True)
    loss = WeightedCrossEntropyLoss()(z1, (t, torch.zeros(8)))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z1.grad, torch.zeros_like(z))


@pytest.mark.parametrize("bad", ["mean", "Batch", None, 1])
def test_unknown_weighting(bad):
    with pytest.raises(ValueError, match="weighting must be one of 'batch', 'subset', 'none'"):
        WeightedCrossEntropyLoss(weighting=bad)


def test_weighted_label_smoothing(logits_targets):
    z, t, w = logits_targets
    per = F.cross_entropy(z, t, reduction="none", label_smoothing=0.2)
    crit = WeightedCrossEntropyLoss(label_smoothing=0.2)
    torch.testing.assert_close(crit(z, (t, w)), (w * per).sum() / w.sum())


def test_weighted_loss_gradient(logits_targets):
    z, t, w = logits_targets
    z1 = z.clone().requires_grad_(True)
    WeightedCrossEntropyLoss(reduction="sum", weighting="subset")(z1, (t, w)).backward()
    z2 = z.clone().requires_grad_(True)
    (F.cross_entropy(z2, t, reduction="none") * w).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad)
    # zero weight: no gradient from that example
    assert torch.equal(z1.grad[w == 0], torch.zeros_like(z1.grad[w == 0]))


def test_weighted_criterion_mapping():
    assert weighted_criterion(torch.nn.CrossEntropyLoss) is WeightedCrossEntropyLoss
    assert weighted_criterion(torch.nn.NLLLoss) is WeightedNLLLoss
    assert weighted_criterion(WeightedCrossEntropyLoss) is WeightedCrossEntropyLoss
    assert weighted_criterion(WeightedNLLLoss) is WeightedNLLLoss
    assert issubclass(WeightedCrossEntropyLoss, torch.nn.CrossEntropyLoss)
    assert issubclass(WeightedNLLLoss, torch.nn.NLLLoss)


@pytest.mark.parametrize("bad", [torch.nn.CrossEntropyLoss(), torch.nn.MSELoss,
                                 torch.nn.BCEWithLogitsLoss, "CrossEntropyLoss", None])
def test_weighted_criterion_errors(bad):
    with pytest.raises(ValueError, match="criterion"):
        weighted_criterion(bad)




# ---------------------------------------------------------------------------
# the criterion's own options: class weights, ignore_index, label smoothing
# ---------------------------------------------------------------------------
CLASS_WEIGHT = torch.tensor([0.5, 1.0, 2.0, 1.5])
OPTIONS = {
    "class_weight": {"weight": CLASS_WEIGHT},
    "ignore_index": {"ignore_index": 3},
    "both": {"weight": CLASS_WEIGHT, "ignore_index": 1},
}


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("weighting", ["batch", "subset", "none"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unit_weights_give_torchs_own_loss(weighted, base, prep, options, weighting, reduction,
                                           logits_targets):
    """All sample weights 1: torch's loss, its normalisation by class weights included."""
    z, t, _ = logits_targets
    got = weighted(weighting=weighting, reduction=reduction, **options)(prep(z), (t, torch.ones(8)))
    torch.testing.assert_close(got, base(reduction=reduction, **options)(prep(z), t))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_unit_weights_with_label_smoothing_and_class_weights(smoothing, logits_targets):
    z, t, _ = logits_targets
    kwargs = dict(weight=CLASS_WEIGHT, label_smoothing=smoothing)
    got = WeightedCrossEntropyLoss(**kwargs)(z, (t, torch.ones(8)))
    torch.testing.assert_close(got, torch.nn.CrossEntropyLoss(**kwargs)(z, t))


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_sample_weights_with_class_weights(weighted, base, prep, logits_targets):
    """``m_i`` (the class weight of the label, 0 when ignored) normalises as in torch's mean:
    batch ``sum w l / sum w m``, subset ``sum w l / sum m``, none: torch's own loss."""
    z, t, w = logits_targets
    options = {"weight": CLASS_WEIGHT, "ignore_index": 1}
    per = base(reduction="none", **options)(prep(z), t)  # class weight included, 0 if ignored
    m = CLASS_WEIGHT[t] * (t != 1)
    torch.testing.assert_close(weighted(**options)(prep(z), (t, w)),
                               (w * per).sum() / (w * m).sum())
    torch.testing.assert_close(weighted(weighting="subset", **options)(prep(z), (t, w)),
                               (w * per).sum() / m.sum())
    torch.testing.assert_close(weighted(weighting="none", **options)(prep(z), (t, w)),
                               base(**options)(prep(z), t))
    # batch: scale invariant; sum = mean * sum m
    crit = weighted(**options)
    torch.testing.assert_close(crit(prep(z), (t, 7.0 * w)), crit(prep(z), (t, w)))
    torch.testing.assert_close(weighted(reduction="sum", **options)(prep(z), (t, w)),
                               crit(prep(z), (t, w)) * m.sum())


def test_sample_weights_with_class_weights_match_a_weighted_mean_by_hand(logits_targets):
    """The batch weighting is the mean over examples weighted by ``w_i m_i``."""
    z, t, w = logits_targets
    ce = F.cross_entropy(z, t, reduction="none")
    m = CLASS_WEIGHT[t]
    got = WeightedCrossEntropyLoss(weight=CLASS_WEIGHT)(z, (t, w))
    torch.testing.assert_close(got, (w * m * ce).sum() / (w * m).sum())
    assert np.isfinite(got.item())
