"""Input checks of a net's last-layer gradients given to a selector's ``fit`` by their factors."""

import numpy as np
import torch

from .._utils.validation import check_finite
from ..gradients import LastLayer

__all__ = ["check_holdout", "check_last_layer"]


def check_last_layer(G, y, device, dtype):
    """Validate a :class:`~sksubset.gradients.LastLayer` given to ``fit``.

    Returns ``(ll, y)``: the factors and logits as finite ``dtype`` tensors on
    ``device`` (labels as long), and the labels as an ndarray.  ``y`` may be
    ``None`` (the labels the gradients were computed with are used); when
    given it must be those labels, since each row's gradient depends on its
    label (a regressor's: its targets; its rows are one group, labels 0).
    """
    if len(G) < 1:
        raise ValueError("G (last-layer gradients) must have at least one row.")
    for name in ("E", "Hb", "Z"):
        if getattr(G, name).ndim != 2 or len(getattr(G, name)) != len(G):
            raise ValueError(f"G.{name} must be 2-D with one row per example; got shape "
                             f"{tuple(getattr(G, name).shape)}.")
    target = None if G.target is None else check_finite(
        G.target.detach().to(device=device, dtype=dtype), "G.target (regression targets)")
    ll = LastLayer(*(check_finite(getattr(G, name).detach().to(device=device, dtype=dtype),
                                   f"G.{name} (last-layer gradients)")
                     for name in ("E", "Hb", "Z")), G.y.to(device=device, dtype=torch.long),
                   target, G.loss)
    labels = ll.y.cpu().numpy()
    if y is not None:
        y = np.asarray(y)
        if G.loss is not None:  # a regressor's: y must be its targets
            given = G.target.detach().cpu().numpy()
            if y.size != given.size or not np.allclose(y.reshape(given.shape), given):
                raise ValueError("y must be the targets the last-layer gradients were "
                                 "computed with (or None to use them).")
        elif y.shape != labels.shape or not np.array_equal(y, labels):
            raise ValueError("y must be the labels the last-layer gradients were computed "
                             "with (or None to use them).")
    return ll, labels


def check_holdout(target, ll, device, dtype):
    """Held-out last-layer gradients given as ``target``, as a :class:`LastLayer` like ``ll``.

    ``ll`` is what ``fit`` got as ``G`` (None when it got a matrix, which
    cannot be matched to held-out factors: TypeError).
    """
    if ll is None:
        raise TypeError("target may be a LastLayer (held-out last-layer gradients) only when "
                        "G is one too; pass a dense target with a dense G.")
    valid = check_last_layer(target, None, device, dtype)[0]
    if valid.E.shape[1] != ll.E.shape[1] or valid.Hb.shape[1] != ll.Hb.shape[1]:
        raise ValueError(f"target has last-layer gradients of shape {valid.shape[1:]} per row "
                         f"but G has {ll.shape[1:]}; compute both with the same net.")
    return valid
