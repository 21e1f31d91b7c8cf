"""Draws without replacement across selection rounds: rounds that cycle through the data.

A :class:`CyclicSampler` hands out ``k`` distinct indices of ``range(n)`` per
call, read off an endless stream of random permutations of ``range(n)``, so
that every index is drawn once before any is drawn twice.  It serves RS2
(Okanovic et al., ICLR 2024: a fresh random subset each round, without
replacement across rounds) in :class:`~sksubset.selectors.RandomSelector` and
the candidate pools of :class:`~sksubset.GradMatchSelector`.

When ``k`` does not divide ``n``, the round that straddles two permutations
takes the rest of the old one plus the head of the next; that head is drawn
among the indices the rest does not hold, so the round's indices stay
distinct while each permutation of the stream still holds every index once.
After ``m`` rounds every index has therefore been drawn
``floor(m k / n)`` or ``ceil(m k / n)`` times.
"""

import numpy as np

__all__ = ["CyclicSampler", "cyclic_draw", "cyclic_sampler"]


class CyclicSampler:
    """Stream of ``k``-subsets of ``range(n)`` that cycles through every index.

    Parameters
    ----------
    n : int
        Size of the ground set.
    rng : numpy.random.RandomState
        Source of the permutations (advanced only when a new one is needed).
    """

    def __init__(self, n, rng):
        self.n, self.rng = int(n), rng
        self.perm = rng.permutation(self.n)
        self.pos = 0
        self.cycles = 0  # permutations begun after the first

    def draw(self, k):
        """The next ``k`` indices of the stream (distinct), sorted."""
        k = int(k)
        if not 0 < k <= self.n:
            raise ValueError(f"k must be in [1, n={self.n}]; got {k}.")
        rest = self.perm[self.pos:self.pos + k]
        self.pos += len(rest)
        if len(rest) == k:
            return np.sort(rest).astype(np.int64)
        need = k - len(rest)
        others = np.setdiff1d(np.arange(self.n), rest, assume_unique=True)
        head = self.rng.choice(others, need, replace=False)
        tail = np.setdiff1d(np.arange(self.n), head, assume_unique=True)
        self.perm = np.concatenate([head, self.rng.permutation(tail)])
        self.pos = need
        self.cycles += 1
        return np.sort(np.concatenate([rest, head])).astype(np.int64)


def cyclic_draw(owner, context, n, k, key=0):
    """``k`` indices of ``range(n)`` from ``owner``'s sampler ``key`` for the current run.

    The samplers live in the run's ``context.run_state`` (a selector instance
    keeps nothing of a run), one per ``owner`` and ``key`` (one per class for
    pools drawn class by class), and are tied to the run's generator
    ``context.rng``: a new run (a new ``run_state`` or a new generator) or a
    ground set of another size starts a new stream, so the same seed gives
    the same rounds.
    """
    samplers = _samplers(owner, context)
    sampler = samplers.get(key)
    if sampler is None or sampler.n != n:
        sampler = samplers[key] = CyclicSampler(n, context.rng)
    return sampler.draw(k)


def cyclic_sampler(owner, context, key=0):
    """The sampler that :func:`cyclic_draw` last drew from for ``owner`` and ``key`` in the
    current run, or None."""
    return _samplers(owner, context).get(key)


def _samplers(owner, context):
    """``owner``'s samplers in the run of ``context`` (keyed by ``key``)."""
    slot = ("cyclic_samplers", id(owner))
    samplers = context.run_state.get(slot)
    if samplers is None or any(s.rng is not context.rng for s in samplers.values()):
        samplers = context.run_state[slot] = {}
    return samplers
