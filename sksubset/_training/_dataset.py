"""The training set of subset training: the current subset's rows, each with its weight."""

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["SubsetDataset"]


class SubsetDataset(Dataset):
    """Rows ``indices`` of ``(X, y)`` with per-row training weights.

    Items are ``(x, (y, weight, row))``, the target the weighted losses of
    :mod:`sksubset._training._loss` take (they ignore ``row``, the example's
    index ``j`` in ``X``, which tells the run's
    :class:`~sksubset._training._harvest.Harvest` whose factors a training
    batch computed).  The run swaps the subset between epochs
    (:meth:`set_subset`); skorch's loop sees one dataset throughout.

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

        The rows are listed in the order of ``X``, whatever order the selector
        gave them in: per-class selectors return them grouped by class, which a
        loader that does not shuffle (skorch's default,
        ``iterator_train__shuffle=False``) would train one class after another,
        each mini-batch of one class.  A net that shuffles sees no difference.
        Weights are rescaled to average 1 over the subset, so that the
        learning rate keeps its meaning; their ratios are kept exactly.  All
        zero weights fall back to ones.
        """
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        self.indices = torch.as_tensor(indices[order])
        if weights is None:
            w = torch.ones(len(self.indices), dtype=torch.float32)
        else:
            w = torch.as_tensor(np.asarray(weights, dtype=np.float64)[order])
            total = float(w.sum())
            w = (w * (len(w) / total) if total > 0 else torch.ones_like(w)).float()
        self.weights = w

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        j = self.indices[i]
        return self.X[j], (self.y[j], self.weights[i], j)
