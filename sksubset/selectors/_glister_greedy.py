"""GLISTER's greedy with exact re-linearization of the validation loss in the last layer.

See :mod:`sksubset.selectors.glister`; the greedy loop itself is
:func:`sksubset._submodular.greedy_picks`.
"""

import warnings

import numpy as np
import torch

from .._submodular import greedy_picks

__all__ = ["relinearizing_greedy", "valid_loss", "warn_if_uninformative"]


def _softmax(Z):
    """Row softmax (faster than ``torch.softmax`` for few columns on the CPU)."""
    e = (Z - Z.amax(1, keepdim=True)).exp()
    return e / e.sum(1, keepdim=True)


def relinearizing_greedy(E, Hb, Ev, Hbv, Zv, k, *, eta, update_every, optimizer, epsilon, rng,
                         gradient_at=None):
    """GLISTER with exact last-layer re-linearization (see the module docstring).

    ``E, Hb``: factors of the candidates' gradients; ``Ev, Hbv, Zv``: the
    validation examples' loss-gradients, ``[1, h]`` and logits (outputs).
    ``gradient_at``: the validation loss-gradients at other outputs ``Z`` (a
    regressor's loss); ``None``: cross-entropy's, ``Ev + softmax(Z) -
    softmax(Zv)``.  Returns the picks (local indices) and their gains.
    """
    nv = len(Ev)
    P0 = _softmax(Zv)
    state = {"Z": Zv.clone(), "M": Ev.T @ Hbv / nv}

    def score(cols):
        return ((Hb[cols] @ state["M"].T) * E[cols]).sum(1)

    def update(new):
        # the last layer moves by -eta * E[new]^T Hb[new]; apply it to the logits
        # as a low-rank product, (Hbv Hb[new]^T) E[new]
        state["Z"] = state["Z"] - eta * (Hbv @ Hb[new].T) @ E[new]
        Ev_new = (Ev + _softmax(state["Z"]) - P0 if gradient_at is None
                  else gradient_at(state["Z"]))
        state["M"] = Ev_new.T @ Hbv / nv

    picks, gains = greedy_picks(len(E), k, score, update, update_every=update_every,
                           optimizer=optimizer, epsilon=epsilon, rng=rng, device=E.device)
    return picks, gains


def warn_if_uninformative(gains):
    """Warn when every pick had gain zero: the choice among the rows was arbitrary."""
    if len(gains) and not np.any(gains):
        warnings.warn("GLISTER: every gain is zero (all gradients, or the validation "
                      "gradient, zero?), so the rows chosen are arbitrary: the first in "
                      "index order, or random draws with optimizer='stochastic'.",
                      UserWarning, stacklevel=3)


def valid_loss(Z, Hbv, yv, E, Hb, eta, losses=None):
    """Mean validation loss at outputs ``Z + Delta [1, h]`` for the full step: cross-entropy,
    or ``losses(Z)`` (per example) when given."""
    step = -eta * (E.T @ Hb)
    Z = (Z + Hbv @ step.T).double()
    if losses is not None:
        return float(losses(Z).mean())
    return float(torch.nn.functional.cross_entropy(Z, yv))
