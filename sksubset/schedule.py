"""The epoch schedule of subset training (GRAD-MATCH's Algorithm 1 as data).

Given the epoch budget ``T`` (the net's ``max_epochs``), the subset size ``k``
out of ``n`` examples, the reselection interval ``R`` and the warm-start
fraction ``kappa``, the run is laid out as in the paper's code (CORDS):

* ``T_f = ceil(floor(kappa * T) * k / n)`` full-data *warm* epochs, whose
  cost equals that of ``floor(kappa * T)`` subset epochs;
* ``floor(kappa * T) - T_f`` *skipped* epochs: nothing is trained, their
  compute was spent by the warm start; epoch-stepped learning-rate schedules
  advance through them, so a schedule over ``T`` epochs still ends where it
  would after ``T`` epochs;
* ``T - floor(kappa * T)`` *subset* epochs (``(1 - kappa) T``), with a new
  selection before the first one and then every ``R`` of them (the paper's
  ``t mod R == 0``, with ``t`` counting subset epochs).

``kappa = 0`` is the plain variant (``T`` subset epochs, no warm start);
``kappa = 1`` is early-stopped full training (no subset epoch at all).  Unlike
CORDS, the first subset epoch always starts with a selection (CORDS trains on
a random subset until the next multiple of ``R``).

Epochs are numbered by the order in which they are trained (``0 ..
n_trained - 1``); skipped epochs take no number.
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

__all__ = ["Schedule", "make_schedule"]


@dataclass(frozen=True)
class Schedule:
    """The laid-out run (see the module docstring).

    Attributes
    ----------
    n_epochs : int
        The epoch budget ``T``.
    warm_epochs : int
        Full-data epochs trained first (``T_f``).
    skipped_epochs : int
        Epochs of the budget left untrained because the warm start paid them.
    subset_epochs : int
        Epochs trained on selected subsets.
    R : int
        Reselection interval, in subset epochs.
    """

    n_epochs: int
    warm_epochs: int
    skipped_epochs: int
    subset_epochs: int
    R: int

    @property
    def n_trained(self):
        """Number of epochs actually trained."""
        return self.warm_epochs + self.subset_epochs

    @property
    def selection_epochs(self):
        """Trained-epoch indices that start with a new selection."""
        return tuple(self.warm_epochs + s for s in range(0, self.subset_epochs, self.R))

    def phase(self, epoch):
        """``"warm"`` or ``"subset"`` for a trained-epoch index."""
        if not 0 <= epoch < self.n_trained:
            raise IndexError(f"epoch {epoch} is outside the schedule (0..{self.n_trained - 1})")
        return "warm" if epoch < self.warm_epochs else "subset"

    def full_epoch_equivalents(self, k, n):
        """Training cost in full-data epochs (``T_f + subset_epochs * k / n``)."""
        return self.warm_epochs + self.subset_epochs * k / n


def make_schedule(n_epochs, k, n, R, kappa):
    """Lay out a subset-training run.

    Parameters
    ----------
    n_epochs : int >= 1
        Epoch budget ``T``.
    k : int
        Subset size (examples per subset epoch).
    n : int
        Number of training examples (``k <= n``).
    R : int >= 1
        Reselect every ``R`` subset epochs.
    kappa : float in [0, 1]
        Warm-start fraction of the epoch budget.

    Returns
    -------
    Schedule

    Examples
    --------
    >>> s = make_schedule(100, k=6000, n=60000, R=20, kappa=0.5)
    >>> s.warm_epochs, s.skipped_epochs, s.subset_epochs, s.selection_epochs
    (5, 45, 50, (5, 25, 45))
    """
    if not isinstance(n_epochs, Integral) or n_epochs < 1:
        raise ValueError(f"n_epochs (the net's max_epochs) must be an int >= 1; got {n_epochs!r}.")
    if not isinstance(R, Integral) or R < 1:
        raise ValueError(f"R must be an int >= 1; got {R!r}.")
    if not isinstance(kappa, Real) or not 0 <= kappa <= 1:
        raise ValueError(f"kappa must be a float in [0, 1]; got {kappa!r}.")
    if not 0 < k <= n:
        raise ValueError(f"the subset size k={k} must be in [1, n={n}].")
    select_after = int(math.floor(kappa * n_epochs + 1e-9))
    warm = math.ceil(select_after * k / n)
    return Schedule(n_epochs=int(n_epochs), warm_epochs=warm,
                    skipped_epochs=select_after - warm,
                    subset_epochs=int(n_epochs) - select_after, R=int(R))
