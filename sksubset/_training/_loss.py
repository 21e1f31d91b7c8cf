"""The weighted loss of subset training: torch's own loss, each example weighted.

During subset epochs the training set yields ``(x, (y, w, row))``: the target
carries each example's selection weight ``w`` (and its row in the training
pool, which the loss ignores; the run's harvest reads it).  :class:`WeightedCrossEntropyLoss`
and :class:`WeightedNLLLoss` are :class:`torch.nn.CrossEntropyLoss` and
:class:`torch.nn.NLLLoss` (the two criteria a skorch classifier uses) that
accept such a target; a plain target (the validation set, a warm-start epoch
read elsewhere) gives torch's own loss.

The per-example losses ``l_i`` come from the functional form
(:func:`torch.nn.functional.cross_entropy`, :func:`~torch.nn.functional.nll_loss`
with ``reduction="none"``), with the criterion's own ``weight`` (class
weights, ``criterion__weight``), ``ignore_index`` and ``label_smoothing``.
torch's mean divides by ``sum_i m_i``, where ``m_i`` is the class weight of
example ``i``'s label (1 without class weights; 0 for an ignored target).
The weighted mean keeps that normalisation and weights the examples as
``weighting`` says:

* ``"batch"``: ``sum_i w_i l_i / sum_i w_i m_i`` (the selection weights
  normalized within each mini-batch, as the papers' code trains; a constant
  rescaling of the weights changes nothing);
* ``"subset"``: ``sum_i w_i l_i / sum_i m_i`` (with weights averaging 1 over
  the subset, an unbiased estimate of the weighted subset loss);
* ``"none"``: ``sum_i l_i / sum_i m_i``, torch's own loss (the ablation).

A regressor's losses (:class:`WeightedMSELoss`, :class:`WeightedL1Loss`,
:class:`WeightedSmoothL1Loss`, :class:`WeightedHuberLoss`) have ``l_i`` the
mean of example ``i``'s elementwise losses over its outputs and ``m_i = 1``
(torch's mean over a mini-batch of ``n`` examples is ``sum l_i / n``; with
``reduction="sum"``, ``l_i`` is the sum over its outputs, as torch's sum).

All weights 1 give torch's own loss in every mode.  ``reduction="sum"`` gives
the numerator of the mean with the same normalized weights, ``sum_i v_i l_i``
(``v_i = w_i sum m / sum w m`` for ``"batch"``, ``w_i`` for ``"subset"``, 1
for ``"none"``), and ``reduction="none"`` the terms ``v_i l_i``.  A
mini-batch whose weights are all zero contributes a zero loss.
"""

import torch
import torch.nn.functional as F

from .._regression import REGRESSION_LOSSES, unsupported_regression_loss

__all__ = ["WEIGHTINGS", "WeightedCrossEntropyLoss", "WeightedNLLLoss", "WeightedMSELoss",
           "WeightedL1Loss", "WeightedSmoothL1Loss", "WeightedHuberLoss", "weighted_criterion"]

#: how selection weights enter a mini-batch's loss (see the module docstring)
WEIGHTINGS = ("batch", "subset", "none")


class _SampleWeighted:
    """Mixin: a ``(target, weight)`` or ``(target, weight, row)`` target gives the weighted
    loss (module docstring; ``row`` is ignored)."""

    def __init__(self, *args, weighting="batch", **kwargs):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(map(repr, WEIGHTINGS))}; "
                             f"got {weighting!r}.")
        super().__init__(*args, **kwargs)
        self.weighting = weighting

    def _losses(self, input, target):  # pragma: no cover - interface
        """Per-example losses ``l_i`` (torch's ``reduction="none"``)."""
        raise NotImplementedError

    def _counts(self, target, dtype):
        """Each example's share ``m_i`` of the denominator of torch's mean."""
        counted = target != self.ignore_index
        m = counted.to(dtype)
        if self.weight is not None:
            m = m * self.weight.to(dtype)[torch.where(counted, target, 0)]
        return m

    def forward(self, input, target):
        if not isinstance(target, (tuple, list)):
            return super().forward(input, target)
        target, weight = target[0], target[1]  # a third item, the row, is not the loss's
        losses = self._losses(input, target)
        counts = self._counts(target, losses.dtype)
        if self.weighting == "none":
            terms = losses
        else:
            weight = weight.to(losses.dtype)
            if self.weighting == "batch":
                total = (weight * counts).sum().clamp_min(torch.finfo(losses.dtype).tiny)
                weight = weight / total * counts.sum()
            terms = losses * weight
        if self.reduction == "none":
            return terms
        if self.reduction == "sum":
            return terms.sum()
        return terms.sum() / counts.sum()


class WeightedCrossEntropyLoss(_SampleWeighted, torch.nn.CrossEntropyLoss):
    """:class:`torch.nn.CrossEntropyLoss` that accepts per-example weights."""

    def _losses(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction="none", label_smoothing=self.label_smoothing)


class WeightedNLLLoss(_SampleWeighted, torch.nn.NLLLoss):
    """:class:`torch.nn.NLLLoss` that accepts per-example weights."""

    def _losses(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction="none")


class _RegressionWeighted(_SampleWeighted):
    """A regressor's loss: ``l_i`` the mean over example ``i``'s outputs, ``m_i = 1``."""

    def _losses(self, input, target):
        elementwise = self._elementwise(input, target.to(input.dtype).reshape(input.shape))
        elementwise = elementwise.reshape(len(elementwise), -1)  # torch's sum: of every element
        return elementwise.sum(1) if self.reduction == "sum" else elementwise.mean(1)

    def _counts(self, target, dtype):
        return torch.ones(len(target), dtype=dtype, device=target.device)


class WeightedMSELoss(_RegressionWeighted, torch.nn.MSELoss):
    """:class:`torch.nn.MSELoss` that accepts per-example weights."""

    def _elementwise(self, input, target):
        return F.mse_loss(input, target, reduction="none")


class WeightedL1Loss(_RegressionWeighted, torch.nn.L1Loss):
    """:class:`torch.nn.L1Loss` that accepts per-example weights."""

    def _elementwise(self, input, target):
        return F.l1_loss(input, target, reduction="none")


class WeightedSmoothL1Loss(_RegressionWeighted, torch.nn.SmoothL1Loss):
    """:class:`torch.nn.SmoothL1Loss` that accepts per-example weights."""

    def _elementwise(self, input, target):
        return F.smooth_l1_loss(input, target, reduction="none", beta=self.beta)


class WeightedHuberLoss(_RegressionWeighted, torch.nn.HuberLoss):
    """:class:`torch.nn.HuberLoss` that accepts per-example weights."""

    def _elementwise(self, input, target):
        return F.huber_loss(input, target, reduction="none", delta=self.delta)


_CLASSIFICATION = {torch.nn.CrossEntropyLoss: WeightedCrossEntropyLoss,
                   torch.nn.NLLLoss: WeightedNLLLoss}
_REGRESSION = dict(zip(REGRESSION_LOSSES, (WeightedMSELoss, WeightedL1Loss,
                                           WeightedSmoothL1Loss, WeightedHuberLoss)))


def weighted_criterion(criterion, regression=False):
    """The weighted counterpart of a net's ``criterion`` class (a classifier's, or a
    ``regression`` net's).

    Raises
    ------
    ValueError
        For anything but ``CrossEntropyLoss`` and ``NLLLoss`` (classes), or
        with ``regression``, anything but ``MSELoss``, ``L1Loss``,
        ``SmoothL1Loss`` and ``HuberLoss`` (classes): the losses whose
        last-layer gradients have a closed form.
    """
    table = _REGRESSION if regression else _CLASSIFICATION
    if isinstance(criterion, type):
        if issubclass(criterion, _SampleWeighted) and criterion in table.values():
            return criterion
        if criterion in table:
            return table[criterion]
    if regression:
        raise unsupported_regression_loss(criterion)
    raise ValueError(
        f"net.criterion must be torch.nn.CrossEntropyLoss (module ending in logits) or "
        f"torch.nn.NLLLoss (skorch's default, module ending in softmax), given as a class "
        f"(set its options with criterion__*); got {criterion!r}.")
