"""A budget (a fraction of the rows or their number) as a number of rows, split over groups."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

__all__ = ["BUDGET_CONSTRAINTS", "resolve_budget", "split_budget", "n_batches_for", "holdout_size"]

#: ``_parameter_constraints`` of every ``budget`` parameter
BUDGET_CONSTRAINTS = [Interval(Real, 0, 1, closed="right"),
                      Interval(Integral, 1, None, closed="left")]


def resolve_budget(budget, n):
    """Turn a budget (fraction in (0, 1] or count) into a number of examples.

    A fraction gives ``max(1, round(budget * n))``; a count must not exceed
    ``n``.  Booleans are refused (``True`` is no budget).
    """
    if isinstance(budget, (bool, np.bool_)):
        raise TypeError(f"budget must be a fraction in (0, 1] or a count >= 1; got the "
                        f"boolean {budget!r}.")
    if isinstance(budget, Integral):
        if budget > n:
            raise ValueError(f"budget={budget} is larger than the number of samples ({n}); "
                             "pass a count of at most n_samples or a fraction in (0, 1].")
        return int(budget)
    return max(1, int(round(float(budget) * n)))


def split_budget(k, sizes):
    """Split ``k`` over groups in proportion to ``sizes`` (largest remainder).

    The parts sum to ``min(k, sum(sizes))`` and none exceeds its group's size.
    When ``k`` is at least the number of non-empty groups, each of them gets
    at least one: a group left at zero takes one from the largest part, so
    that a class of one or two examples still has a slot.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    k = min(int(k), total)
    quota = k * sizes / max(total, 1)
    parts = np.minimum(np.floor(quota).astype(np.int64), sizes)
    order = np.argsort(-(quota - parts), kind="stable")
    i = 0
    while parts.sum() < k:
        g = order[i % len(order)]
        if parts[g] < sizes[g]:
            parts[g] += 1
        i += 1
    if k >= np.count_nonzero(sizes):
        for g in np.flatnonzero((parts == 0) & (sizes > 0)):
            parts[np.argmax(parts)] -= 1
            parts[g] += 1
    return parts


def n_batches_for(budget, batch_size):
    """Number of mini-batches to select for a budget of examples (CORDS: ceil)."""
    return max(1, math.ceil(budget / batch_size))


def holdout_size(valid_size, n):
    """Rows held out of ``n`` by ``valid_size`` (a fraction in (0, 1) or a count); 0 for None."""
    if valid_size is None:
        return 0
    if isinstance(valid_size, Integral):
        return int(valid_size)
    return int(math.ceil(valid_size * n))
