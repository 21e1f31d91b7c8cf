"""Weighted subset training inside skorch's own fit loop.

Three small pieces let :class:`~sksubset.SubsetTrainingClassifier` train a
user's unchanged skorch net on a changing, weighted subset in a *single*
``partial_fit`` call, so that optimizer state, learning-rate schedulers,
history and every other callback see one continuous run:

* :class:`SubsetDataset` yields ``(x, (y, weight))`` for the rows of the
  current subset; the subset and the weights are swapped between epochs;
* :class:`WeightedCrossEntropyLoss` and :class:`WeightedNLLLoss` are the
  torch losses the user chose, extended to weight each example's loss when
  the target carries weights, in one of the :data:`WEIGHTINGS` (plain
  targets, e.g. of the validation set, give the usual loss);
* :class:`SubsetSchedule` is the callback that, at the start of each epoch,
  runs a selection when the schedule says so and records the phase in the
  net's history.
"""

import time

import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import Dataset

__all__ = ["SubsetDataset", "WeightedCrossEntropyLoss", "WeightedNLLLoss", "WEIGHTINGS",
           "weighted_criterion", "SubsetSchedule", "sync"]


def sync(device):
    """Wait for queued work on ``device`` (so wall-clock timings are honest)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SubsetDataset(Dataset):
    """Rows ``indices`` of ``(X, y)`` with per-row training weights.

    Parameters
    ----------
    X : torch.Tensor of shape (n, ...) or sksubset.data.Rows
        Anything whose ``X[j]`` is the input of row ``j``.
    y : torch.Tensor of shape (n,)
    """

    def __init__(self, X, y):
        self.X = X
        self.y = y
        self.set_subset(np.arange(len(y)), None)

    def set_subset(self, indices, weights):
        """Train on ``X[indices]``; ``weights`` (aligned) default to 1.

        Weights are rescaled to average 1 over the subset, so that the
        learning rate keeps its meaning; their ratios are kept exactly.
        """
        self.indices = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        if weights is None:
            w = torch.ones(len(self.indices), dtype=torch.float32)
        else:
            w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
            total = float(w.sum())
            w = (w * (len(w) / total) if total > 0 else torch.ones_like(w)).float()
        self.weights = w

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        j = self.indices[i]
        return self.X[j], (self.y[j], self.weights[i])


#: how selection weights enter a mini-batch's loss (see :class:`WeightedCrossEntropyLoss`)
WEIGHTINGS = ("batch", "subset", "none")


class _SampleWeighted:
    """Mixin: a ``(target, weight)`` target gives the weighted loss.

    ``weighting`` says how the weights enter the loss of a mini-batch of
    per-example losses ``l_i`` with weights ``w_i``:

    * ``"batch"``: ``sum_i w_i l_i / sum_i w_i`` (the weights normalized
      within each mini-batch, as the papers' code trains);
    * ``"subset"``: ``mean_i w_i l_i`` (with weights averaging 1 over the
      whole subset, an unbiased estimate of the weighted subset loss);
    * ``"none"``: ``mean_i l_i`` (the weights are ignored).

    ``reduction="sum"`` sums the same normalized terms instead of averaging
    them and ``"none"`` returns them.  A mini-batch whose weights are all zero
    contributes a zero loss.
    """

    def __init__(self, *args, weighting="batch", **kwargs):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(map(repr, WEIGHTINGS))}; "
                             f"got {weighting!r}.")
        super().__init__(*args, **kwargs)
        self.weighting = weighting

    def forward(self, input, target):
        if not isinstance(target, (tuple, list)):
            return super().forward(input, target)
        target, weight = target
        reduction, self.reduction = self.reduction, "none"
        try:
            losses = super().forward(input, target)
        finally:
            self.reduction = reduction
        if self.weighting != "none":
            weight = weight.to(losses.dtype)
            if self.weighting == "batch":
                total = weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)
                weight = weight / total * len(weight)
            losses = losses * weight
        if reduction == "sum":
            return losses.sum()
        if reduction == "none":
            return losses
        return losses.mean()


class WeightedCrossEntropyLoss(_SampleWeighted, torch.nn.CrossEntropyLoss):
    """:class:`torch.nn.CrossEntropyLoss` that accepts per-example weights."""


class WeightedNLLLoss(_SampleWeighted, torch.nn.NLLLoss):
    """:class:`torch.nn.NLLLoss` that accepts per-example weights."""


def weighted_criterion(criterion):
    """The weighted counterpart of a net's ``criterion`` class.

    Raises
    ------
    ValueError
        For anything but ``CrossEntropyLoss`` and ``NLLLoss`` (classes).
    """
    if isinstance(criterion, type):
        if issubclass(criterion, _SampleWeighted):
            return criterion
        if criterion is torch.nn.CrossEntropyLoss:
            return WeightedCrossEntropyLoss
        if criterion is torch.nn.NLLLoss:
            return WeightedNLLLoss
    raise ValueError(
        f"net.criterion must be torch.nn.CrossEntropyLoss (module ending in logits) or "
        f"torch.nn.NLLLoss (skorch's default, module ending in softmax), given as a class "
        f"(set its options with criterion__*); got {criterion!r}.")


class SubsetSchedule(Callback):
    """Drives the schedule from inside skorch's fit loop.

    Armed by the meta-estimator for one ``fit``; disarmed afterwards so that a
    fitted net carries no reference to the training data.

    Parameters
    ----------
    run : object
        The meta-estimator's run state, with ``begin_epoch(net)``,
        ``end_batch(net)`` (after each training mini-batch) and
        ``end_epoch(net)``.
    """

    def __init__(self, run=None):
        self.run = run

    def on_epoch_begin(self, net, **kwargs):
        if self.run is not None:
            self.run.begin_epoch(net)

    def on_batch_end(self, net, training=False, **kwargs):
        if self.run is not None and training:
            self.run.end_batch(net)

    def on_epoch_end(self, net, **kwargs):
        if self.run is not None:
            self.run.end_epoch(net)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["run"] = None
        return state


def skip_lr_epochs(net, n_skip):
    """Advance the net's epoch-stepped learning-rate schedulers by ``n_skip`` epochs."""
    if n_skip <= 0:
        return
    for _, cb in net.callbacks_:
        sched = getattr(cb, "lr_scheduler_", None)
        if (isinstance(cb, LRScheduler) and cb.step_every == "epoch" and sched is not None
                and not isinstance(sched, ReduceLROnPlateau)):
            for _ in range(n_skip):
                sched.step()


class Stopwatch:
    """Accumulates named wall-clock intervals (synchronizing the device first)."""

    def __init__(self, device):
        self.device = device
        self.totals = {}
        self._t = None

    def start(self):
        sync(self.device)
        self._t = time.perf_counter()

    def lap(self, name):
        """Charge the time since the last lap (or start) to ``name``; return it."""
        sync(self.device)
        now = time.perf_counter()
        elapsed = now - self._t
        self.totals[name] = self.totals.get(name, 0.0) + elapsed
        self._t = now
        return elapsed
