"""Closed-form formulas on last-layer gradient factors (re-exported by :mod:`sksubset.gradients`).

The gradient of one example's loss with respect to the last ``nn.Linear`` is
the outer product of ``e = dL/dz`` (:func:`dloss_dlogits`) and ``[1, h]``;
these functions work on the factors ``E`` (n, C) and ``Hb`` (n, H + 1) alone,
in the layout documented in :mod:`sksubset.gradients`, without the net.
"""

import numpy as np
import torch

__all__ = ["batch_gradients", "class_gradients", "dloss_dlogits", "gradient_sum",
           "random_batches", "sample_gradients"]


def dloss_dlogits(z, out, y, criterion, kind):
    """Per-example gradient of the loss with respect to the logits ``z``.

    ``kind`` is ``"logits"`` (``CrossEntropyLoss`` on the logits) or
    ``"probabilities"`` (skorch's ``NLLLoss`` on ``log(p + eps)``, ``out = p``); the
    criterion's class weights and label smoothing are honoured.
    """
    p = torch.softmax(z, dim=1)
    n, C = p.shape
    w = getattr(criterion, "weight", None)
    w = torch.ones(C, device=p.device, dtype=p.dtype) if w is None else w.to(p)
    smooth = float(getattr(criterion, "label_smoothing", 0.0) or 0.0)
    t = torch.nn.functional.one_hot(y, C).to(p.dtype) * (1.0 - smooth) + smooth / C
    tw = t * w
    # loss = sum_j t_j w_j (-log p_j)  =>  dL/dz = (sum_j t_j w_j) p - t * w
    e = tw.sum(1, keepdim=True) * p - tw
    if kind == "probabilities":  # skorch: NLLLoss(log(p + eps))
        eps = torch.finfo(out.dtype).eps
        py = out.gather(1, y.unsqueeze(1))
        e = e * (py / (py + eps))
    return e


def sample_gradients(E, Hb):
    """Per-example gradients, ``(n, C * (H + 1))``, in the documented layout."""
    return (E.unsqueeze(2) * Hb.unsqueeze(1)).reshape(len(E), -1)


def class_gradients(E, Hb, y):
    """Each example's gradient restricted to its own class's block, ``(n, H + 1)``."""
    y = torch.as_tensor(y, device=E.device, dtype=torch.long)
    return E.gather(1, y.unsqueeze(1)) * Hb


def gradient_sum(E, Hb):
    """Sum of all per-example gradients, ``(C * (H + 1),)``, without forming them."""
    return (E.T @ Hb).reshape(-1)


def random_batches(n, batch_size, rng):
    """A random partition of ``range(n)`` into consecutive batches of ``batch_size``.

    Returns a list of index arrays (the last one may be shorter).
    """
    perm = rng.permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def batch_gradients(E, Hb, batches, *, chunk=256):
    """Mean gradient of each mini-batch, ``(n_batches, C * (H + 1))``.

    Parameters
    ----------
    E, Hb : torch.Tensor
        Factors from :func:`last_layer`.
    batches : list of array-like of int
        The partition (e.g. from :func:`random_batches`).
    chunk : int, default=256
        Batches processed per batched matrix product.
    """
    C, H1 = E.shape[1], Hb.shape[1]
    out = torch.empty(len(batches), C * H1, device=E.device, dtype=E.dtype)
    B = max(len(b) for b in batches)
    for s in range(0, len(batches), chunk):
        group = batches[s:s + chunk]
        idx = torch.zeros(len(group), B, dtype=torch.long)
        mask = torch.zeros(len(group), B, dtype=E.dtype)
        for i, b in enumerate(group):
            idx[i, :len(b)] = torch.as_tensor(np.asarray(b))
            mask[i, :len(b)] = 1.0 / len(b)
        idx, mask = idx.to(E.device), mask.to(E.device)
        Eg = E[idx] * mask.unsqueeze(2)  # (g, B, C), padding rows weigh 0
        out[s:s + len(group)] = torch.bmm(Eg.transpose(1, 2), Hb[idx]).reshape(len(group), -1)
    return out
