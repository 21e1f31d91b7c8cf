"""The wall-clock of one fit, split into the parts of Algorithm 1 (``timing_``).

A :class:`Clock` charges the time between two laps to a part: ``setup``,
``warm_start``, ``subset_training``, and within a selection step the forward
passes (``gradients``) apart from the rest (``solver``).  Every lap waits for
the device's queued work first, so that GPU timings are honest.
"""

import time

from .._utils.validation import sync

__all__ = ["PARTS", "Clock", "sync"]

#: the parts of ``timing_`` (its ``total`` is their sum)
PARTS = ("setup", "warm_start", "gradients", "solver", "subset_training")


class Clock:
    """Accumulated wall-clock seconds of the :data:`PARTS` of one fit.

    Parameters
    ----------
    device : torch.device
        Synchronized before every reading.
    setup : float
        Seconds already spent before training (the clock starts now).
    """

    def __init__(self, device, setup=0.0):
        self.device = device
        self.totals = dict.fromkeys(PARTS, 0.0)
        self.totals["setup"] = setup
        self._forward = 0.0
        sync(device)
        self._t = time.perf_counter()

    def lap(self, part):
        """Charge the time since the last lap to ``part``; return it."""
        sync(self.device)
        now = time.perf_counter()
        elapsed = now - self._t
        self.totals[part] += elapsed
        self._t = now
        return elapsed

    def forward(self, pass_, *args, **kwargs):
        """Run a forward pass of a selection step, its seconds counted as ``gradients``."""
        t = time.perf_counter()
        out = pass_(*args, **kwargs)
        sync(self.device)
        self._forward += time.perf_counter() - t
        return out

    def selection(self, step, *args):
        """Run a selection step: its forward passes (:meth:`forward`) are charged to
        ``gradients``, the rest to ``solver``.  Call :meth:`lap` for the training before.

        Returns
        -------
        out : the step's result
        seconds : float
            The whole step.
        gradient_seconds : float
            Its forward passes.
        """
        self._forward = 0.0
        out = step(*args)
        seconds = self.lap("solver")
        self.totals["solver"] -= self._forward
        self.totals["gradients"] += self._forward
        return out, seconds, self._forward

    def timing(self):
        """``timing_``: seconds per part and their ``total``."""
        return {**self.totals, "total": sum(self.totals.values())}
