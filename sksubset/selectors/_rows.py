"""Rows of what a selector was fitted on: groups by class, chosen mini-batches, row views."""

import numpy as np
import torch
from sklearn.utils import _safe_indexing

from ..gradients import LastLayer

__all__ = ["expand_batches", "group_rows", "take_rows"]


def group_rows(y, n=None):
    """Classes of ``y`` and the rows of each; ``y=None``: one group of all ``n`` rows.

    Returns ``(classes, rows)`` (``classes`` is None without labels).
    """
    if y is None:
        return None, [np.arange(n)]
    classes, inverse = np.unique(y, return_inverse=True)
    return classes, [np.flatnonzero(inverse == c) for c in range(len(classes))]


def expand_batches(batches, chosen, weights):
    """Examples of the chosen mini-batches, each weighted by its batch's weight."""
    idx = [np.asarray(batches[b]) for b in chosen]
    w = [np.full(len(i), wb, dtype=np.float64) for i, wb in zip(idx, weights)]
    if not idx:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(idx).astype(np.int64), np.concatenate(w)


def take_rows(X, indices, n_rows):
    """Rows ``indices`` of ``X`` (array-like, tensor, LastLayer or torch Dataset).

    ``X`` must have ``n_rows`` rows (the rows the selector was fitted on).
    """
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    if n != n_rows:
        raise ValueError(f"X has {n} rows but the selector was fitted on {n_rows}.")
    if isinstance(X, torch.utils.data.Dataset):
        return torch.utils.data.Subset(X, [int(i) for i in indices])
    if isinstance(X, (torch.Tensor, LastLayer)):
        return X[torch.as_tensor(indices, device=X.device)]
    return _safe_indexing(X, indices)
