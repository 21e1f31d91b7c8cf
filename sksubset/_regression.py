"""Closed forms of the regression losses in the outputs: per-example loss, gradient, curvature.

A :class:`skorch.NeuralNetRegressor` whose module ends in its last ``nn.Linear``
predicts ``yhat = W h + b``; with a per-element loss ``rho`` the loss of one
example with ``d`` outputs is ``l = mean_c rho(yhat_c - y_c)`` (torch's
``reduction="mean"`` over a mini-batch is the mean of these), so its gradient
with respect to the last layer is the outer product ``e [1, h]^T`` with
``e = dl/dyhat = rho'(r) / d``: the same factored form as a classifier's
(:mod:`sksubset.gradients`), with ``d`` columns instead of ``C``.  The Hessian
of ``l`` in ``yhat`` is diagonal, ``rho''(r) / d``:

==================  ===========================  ==========================  ==================
criterion           ``rho(r)``                   ``rho'(r)``                 ``rho''(r)``
==================  ===========================  ==========================  ==================
``MSELoss``         ``r^2``                      ``2 r``                     ``2``
``L1Loss``          ``|r|``                      ``sign(r)``                 ``0``
``SmoothL1Loss``    ``r^2 / (2 beta)`` if        ``r / beta`` if             ``1 / beta`` if
                    ``|r| < beta``, else         ``|r| < beta``, else        ``|r| < beta``,
                    ``|r| - beta / 2``           ``sign(r)``                 else 0
``HuberLoss``       ``r^2 / 2`` if               ``clip(r, -delta, delta)``  ``1`` if
                    ``|r| < delta``, else                                    ``|r| < delta``,
                    ``delta (|r| - delta / 2)``                              else 0
==================  ===========================  ==========================  ==================

(``SmoothL1Loss(beta=0)`` is ``L1Loss``, as in torch.)  Any other criterion has
no closed form here: :func:`regression_loss` names the supported ones.
"""

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["REGRESSION_LOSSES", "RegressionLoss", "regression_loss"]

#: the criteria of a regressor whose last-layer gradients have a closed form
REGRESSION_LOSSES = {nn.MSELoss: "mse", nn.L1Loss: "l1", nn.SmoothL1Loss: "smooth_l1",
                     nn.HuberLoss: "huber"}


@dataclass(frozen=True)
class RegressionLoss:
    """One regression loss in closed form, per example (the mean over its outputs).

    Parameters
    ----------
    kind : {"mse", "l1", "smooth_l1", "huber"}
    scale : float, default=1.0
        ``beta`` of ``SmoothL1Loss``, ``delta`` of ``HuberLoss``.
    """

    kind: str
    scale: float = 1.0

    def _residual(self, Z, T):
        Z = Z.reshape(len(Z), -1)
        return Z - T.to(Z).reshape(Z.shape)

    def losses(self, Z, T):
        """Per-example losses ``l_i`` of predictions ``Z`` for targets ``T``, shape (n,)."""
        r = self._residual(Z, T)
        a, s = r.abs(), self.scale
        if self.kind == "mse":
            rho = r * r
        elif self.kind == "l1":
            rho = a
        elif self.kind == "smooth_l1":
            rho = torch.where(a < s, 0.5 * r * r / s, a - 0.5 * s)
        else:
            rho = torch.where(a < s, 0.5 * r * r, s * (a - 0.5 * s))
        return rho.mean(1)

    def gradient(self, Z, T):
        """``dl_i / dZ_i``, shape (n, d): the factor ``E`` of the last-layer gradients."""
        r = self._residual(Z, T)
        d, s = r.shape[1], self.scale
        if self.kind == "mse":
            g = 2.0 * r
        elif self.kind == "l1":
            g = torch.sign(r)
        elif self.kind == "smooth_l1":
            g = torch.where(r.abs() < s, r / s, torch.sign(r))
        else:
            g = r.clamp(-s, s)
        return g / d

    def curvature(self, Z, T):
        """``d^2 l_i / dZ_ic^2``, shape (n, d) (the Hessian in the outputs is diagonal)."""
        r = self._residual(Z, T)
        d, s = r.shape[1], self.scale
        if self.kind == "mse":
            c = torch.full_like(r, 2.0)
        elif self.kind == "l1":
            c = torch.zeros_like(r)
        elif self.kind == "smooth_l1":
            c = (r.abs() < s).to(r.dtype) / s
        else:
            c = (r.abs() < s).to(r.dtype)
        return c / d


def _names():
    return ", ".join(f"torch.nn.{cls.__name__}" for cls in REGRESSION_LOSSES)


def regression_loss(criterion):
    """The :class:`RegressionLoss` of a criterion (class or instance), or None for another.

    A ``SmoothL1Loss`` or ``HuberLoss`` instance gives its ``beta`` or
    ``delta``; a class gives torch's default (1.0).
    """
    cls = criterion if isinstance(criterion, type) else type(criterion)
    for base, kind in REGRESSION_LOSSES.items():
        if issubclass(cls, base):
            if kind == "smooth_l1":
                beta = float(getattr(criterion, "beta", 1.0)) if not isinstance(
                    criterion, type) else 1.0
                return RegressionLoss("l1") if beta == 0 else RegressionLoss(kind, beta)
            if kind == "huber":
                delta = 1.0 if isinstance(criterion, type) else float(criterion.delta)
                return RegressionLoss(kind, delta)
            return RegressionLoss(kind)
    return None


def unsupported_regression_loss(criterion):
    """The ValueError for a regressor's criterion without a closed form here."""
    return ValueError(f"net.criterion must be one of {_names()} (closed-form last-layer "
                      f"gradients), given as a class (set its options with criterion__*); "
                      f"got {criterion!r}.")
