"""What a net's criterion makes of its module's outputs (re-used by :mod:`sksubset.gradients`).

A criterion is one of three kinds: ``"logits"`` (``CrossEntropyLoss`` on the
output of the last ``nn.Linear``), ``"probabilities"`` (skorch's ``NLLLoss`` on
the softmax of it) or a :class:`~sksubset._regression.RegressionLoss` (a
regressor's ``MSELoss``, ``L1Loss``, ``SmoothL1Loss`` or ``HuberLoss`` on the
output of the last ``nn.Linear``).  :func:`output_factors` gives each
example's gradient with respect to that output, the factor ``E``.
"""

import torch
from torch import nn

from ._factors import dloss_dlogits
from ._regression import REGRESSION_LOSSES, RegressionLoss, regression_loss
from .exceptions import DivergenceError

__all__ = ["SUPPORTED", "check_finite_outputs", "check_output", "loss_kind", "output_factors"]

SUPPORTED = (
    "closed-form last-layer gradients need either criterion=torch.nn.CrossEntropyLoss "
    "with a module whose output is the logits of its last nn.Linear, or "
    "criterion=torch.nn.NLLLoss (skorch's default) with a module whose output is the "
    "softmax of those logits, or (a regressor) one of "
    + ", ".join(f"torch.nn.{cls.__name__}" for cls in REGRESSION_LOSSES)
    + " with a module whose output is that of its last nn.Linear"
)


def loss_kind(criterion, classifier=False):
    """``"logits"``, ``"probabilities"`` or the :class:`RegressionLoss` of a criterion
    (only the first two for a ``classifier``'s)."""
    if isinstance(criterion, nn.CrossEntropyLoss):
        return "logits"
    if isinstance(criterion, nn.NLLLoss):
        return "probabilities"
    reg = None if classifier else regression_loss(criterion)
    if reg is not None:
        return reg
    raise ValueError(f"Unsupported criterion {type(criterion).__name__}; {SUPPORTED}.")


def output_factors(z, out, y, criterion, kind):
    """``(E, labels, target, loss)`` of examples with last-layer outputs ``z``.

    For a classifier ``y`` holds the labels, and ``target`` and ``loss`` are
    None; for a regressor ``y`` holds the targets (``(n,)`` or ``(n, d)``),
    returned as ``target`` of shape ``(n, d)`` in ``z``'s dtype, with every
    label 0 (one group) and ``loss`` the :class:`RegressionLoss`.
    """
    if isinstance(kind, RegressionLoss):
        target = y.to(device=z.device, dtype=z.dtype).reshape(len(z), -1)
        labels = torch.zeros(len(z), device=z.device, dtype=torch.long)
        return kind.gradient(z, target), labels, target, kind
    y = y.to(device=z.device, dtype=torch.long)
    return dloss_dlogits(z, out, y, criterion, kind), y, None, None


def check_finite_outputs(Z, H, out=None):
    """Raise :class:`~sksubset.exceptions.DivergenceError` naming non-finite rows of the
    logits ``Z``, the embeddings ``H`` (inputs of the last layer) or the module's output."""
    parts = [("logits", Z), ("inputs of the last nn.Linear", H)]
    if out is not None:
        parts.append(("module outputs", out))
    for what, t in parts:
        bad = ~torch.isfinite(t.reshape(len(t), -1)).all(dim=1)
        if bad.any():
            raise DivergenceError(
                f"The net's {what} are NaN or infinite for {int(bad.sum())} of {len(t)} "
                f"examples (first: row {int(bad.nonzero()[0, 0])}); the net's parameters or "
                "inputs are not finite, e.g. because training diverged.")


def check_output(out, z, kind):
    """The module's output must be what its criterion expects of the last layer's ``z``."""
    if out.shape != z.shape:
        raise ValueError(f"The module's output has shape {tuple(out.shape)} but its last "
                         f"nn.Linear gives {tuple(z.shape)}; {SUPPORTED}.")
    ref = torch.softmax(z, dim=1) if kind == "probabilities" else z
    if not torch.allclose(out, ref, rtol=1e-4, atol=1e-5):
        what = {"probabilities": "softmax of the logits", "logits": "logits"}.get(kind, "output")
        raise ValueError(f"The module's output is not the {what} of its last nn.Linear; "
                         f"{SUPPORTED}.")
