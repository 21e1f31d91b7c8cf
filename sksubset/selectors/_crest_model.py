"""CREST's quadratic loss model in the last layer and what it remembers between rounds.

How the model departs from the authors' code (``bigml-cs-ucla/crest``):

* The quadratic model is of the loss as a function of the **last layer**
  only: the context exposes that layer's parameters and closed-form factors
  (:mod:`sksubset.gradients`), not the whole net.  The gradient is exact; the
  second-order term is the last-layer Hessian, which for cross-entropy equals
  its Gauss-Newton matrix because the logits are linear in those parameters:
  ``(diag(p) - p p^T) (x) [1, h][1, h]^T`` per example.  ``curvature=
  "diagonal"`` keeps only its diagonal, ``sum_i (p_ic - p_ic^2) hb_ij^2``, in
  the spirit of the paper (which uses AdaHessian's Hutchinson estimate of the
  full-net Hessian diagonal); ``"full"`` uses the whole block without ever
  forming it.  Changes of the layers below move the actual loss but not the
  model, so they count as model error: the trigger is conservative.
* The model is fitted on random-subset rows (the code's
  ``approx_with_coreset=False`` variant), so that it is a model of exactly the
  loss the check measures; at ``theta = theta0`` its prediction is the
  stored loss.  Not on all of them: the coresets fill the budget, so the
  random subsets together hold about ``budget / batch_size`` times 1% of the
  data (94% of it for a 10% budget in mini-batches of 64), and checking them
  all would cost nearly a full forward pass every epoch.  The code evaluates
  its model on small random subsets; here it is fitted on, and checked
  against, the first random subsets of the selection, ``check_fraction``
  (5%) of the data and at least one subset: a stratified random sample,
  fixed until the next selection.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["QuadraticModel", "RunState", "features"]


def features(ll):
    """CREST's gradient features of a :class:`~sksubset.gradients.LastLayer`, in float64:
    ``(P, softmax(z) - onehot(y))`` for a classifier's, ``(None, E)`` (``E = dl/dyhat``)
    for a regressor's."""
    if ll.loss is not None:
        return None, ll.E.to(torch.float64)
    P = torch.softmax(ll.Z.to(torch.float64), dim=1)
    F = P.clone()
    F[torch.arange(len(ll.y), device=F.device), ll.y] -= 1.0
    return P, F


@dataclass
class QuadraticModel:
    """Second-order model of the mean loss on fixed rows, in the last layer.

    ``predict(theta) = loss0 + g . d + d^T H d / 2`` with ``d = theta - theta0``
    (gradient layout of :mod:`sksubset.gradients`).  The loss is the
    cross-entropy, or a regressor's loss, whose Hessian in the outputs is
    diagonal, ``S`` (``d^2 l / dyhat_c^2``: ``2 / d`` for the squared loss):
    the last-layer Hessian is then ``sum_i diag(S_i) (x) [1, h_i][1, h_i]^T``.
    """

    loss0: float
    grad: torch.Tensor                   # (C * (H + 1),), float64
    diag: torch.Tensor | None         # Hessian diagonal ("diagonal")
    P: torch.Tensor | None            # softmax (n, C) ("full")
    Hb: torch.Tensor | None           # [1, h] (n, H + 1) ("full")
    theta0: torch.Tensor | None
    shape: tuple
    S: torch.Tensor | None = None     # a regressor's output curvature (n, d) ("full")

    @classmethod
    def fit(cls, ll, theta0, curvature):
        P, F = features(ll)
        Hb = ll.Hb.to(torch.float64)
        n = len(ll)
        loss0 = float(ll.losses().to(torch.float64).mean())
        grad = (F.T @ Hb).reshape(-1) / n
        full = curvature == "full"
        S = None if P is not None else ll.loss.curvature(ll.Z.to(torch.float64), ll.target)
        if full:
            diag = None
        elif S is None:
            diag = ((P - P * P).T @ (Hb * Hb)).reshape(-1) / n
        else:
            diag = (S.T @ (Hb * Hb)).reshape(-1) / n
        theta0 = None if theta0 is None else theta0.detach().to(Hb.device, torch.float64).clone()
        return cls(loss0, grad, diag, P if full else None, Hb if full else None, theta0,
                   (F.shape[1], Hb.shape[1]), S if full else None)

    def predict(self, theta):
        """Predicted mean loss at last-layer parameters ``theta`` (``None``: at ``theta0``)."""
        if theta is None or self.theta0 is None:
            return self.loss0
        d = theta.detach().to(self.grad.device, torch.float64).reshape(-1) - self.theta0
        if self.diag is not None:
            quad = float(d * d @ self.diag)
        else:
            U = self.Hb @ d.reshape(self.shape).T           # change of each row's logits
            if self.S is not None:  # a regressor's: diagonal in the outputs
                quad = float((self.S * U * U).sum(1).mean())
            else:
                PU = (self.P * U).sum(1)
                quad = float(((self.P * U * U).sum(1) - PU * PU).mean())
        return self.loss0 + float(d @ self.grad) + 0.5 * quad


class RunState:
    """What the selector remembers between rounds of one training run."""

    def __init__(self, n):
        self.n = n
        self.dropped = np.zeros(n, dtype=bool)
        self.streak = np.zeros(n, dtype=np.int64)       # consecutive observations below threshold
        self.last_loss = np.full(n, np.inf)
        self.last_seen = np.full(n, -1, dtype=np.int64)  # epoch of the last observation
        self.model = None
        self.random_idx = None
        self.check_idx = None                              # rows the model is fitted on
        self.selected_epoch = -1
        self.checks = []

    def observe(self, indices, losses, epoch, loss_threshold):
        """Record one loss observation per example (at most one per epoch)."""
        losses = np.asarray(losses, dtype=np.float64)
        fresh = self.last_seen[indices] != epoch
        idx, loss = indices[fresh], losses[fresh]
        below = loss < loss_threshold
        self.streak[idx] = np.where(below, self.streak[idx] + 1, 0)
        self.last_loss[idx] = loss
        self.last_seen[idx] = epoch

    def drop(self, y, k, drop_after):
        """Exclude learned examples, keeping each class's share of the budget eligible.

        Returns the number of examples newly dropped.
        """
        candidates = (self.streak >= drop_after) & ~self.dropped
        if not candidates.any():
            return 0
        n = len(y)
        newly = 0
        for c in np.unique(y):
            rows = y == c
            need = math.ceil(k * rows.sum() / n)
            room = int((rows & ~self.dropped).sum()) - need
            cand = np.flatnonzero(rows & candidates)
            if room <= 0 or not len(cand):
                continue
            if len(cand) > room:  # the most learned first
                cand = cand[np.argsort(self.last_loss[cand], kind="stable")[:room]]
            self.dropped[cand] = True
            newly += len(cand)
        return newly
