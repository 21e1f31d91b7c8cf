"""What :meth:`sksubset.SubsetTrainingClassifier.fit` warns about, or stops on, as it trains.

* :func:`warn_if_below_one_batch`: a subset no larger than one mini-batch
  (every subset epoch is a single gradient step);
* :func:`divergence_error`: the :class:`~sksubset.exceptions.DivergenceError`
  of a run whose loss, logits or last-layer inputs became NaN or infinite,
  saying where and what to try;
* :func:`warn_if_unconverged`: a run whose training loss ended far above where
  it started.
"""

import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from .exceptions import DivergenceError

__all__ = ["warn_if_below_one_batch", "divergence_error", "warn_if_unconverged"]


def warn_if_below_one_batch(k, n, batch_size, stacklevel=5):
    """Warn when a subset of ``k`` of the ``n`` examples fits in one mini-batch."""
    if 0 < k <= batch_size < n:
        warnings.warn(
            f"Each subset holds {k} examples, no more than one mini-batch of the net "
            f"(batch_size={batch_size}): every subset epoch is a single gradient step, and the "
            f"net barely trains on the subsets. Raise budget to well above {batch_size / n:.3g} "
            f"or lower the net's batch_size (net__batch_size) well below {k}.",
            UserWarning, stacklevel=stacklevel)


def divergence_error(where, what, lr, X=None):
    """The error of a diverged run: ``where`` (epoch, phase, round), ``what`` went wrong,
    and the remedies: a smaller ``lr``, and inputs on a smaller scale when the in-memory
    inputs ``X`` (a tensor, or None) are far from unit scale."""
    hint = f"a smaller learning rate (net lr={lr:g})"
    scale = float(X.abs().max()) if isinstance(X, torch.Tensor) and X.numel() else 0.0
    if scale > 1e6:
        hint += f" or inputs on a smaller scale (the largest |X| is {scale:.3g})"
    return DivergenceError(f"Training diverged in {where}: {what.rstrip('.')}. Try {hint}.")


def warn_if_unconverged(history, lr, stacklevel=4):
    """A ConvergenceWarning when the last epoch's training loss (of a skorch ``history``) is
    more than twice the first mini-batch's, the loss before any step."""
    first = history[0, "batches", 0, "train_loss"]
    last = history[-1, "train_loss"]
    if last > 2 * first:
        warnings.warn(f"The training loss ended at {last:.4g} after {len(history)} epochs, "
                      f"more than twice its start ({first:.4g}): training did not converge. "
                      f"Try a smaller learning rate (net lr={lr:g}).",
                      ConvergenceWarning, stacklevel=stacklevel)
