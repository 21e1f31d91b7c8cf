"""CREST's random subsets and their mini-batch coresets (see :mod:`sksubset.selectors.crest`)."""

import math
import warnings

import numpy as np
import torch

from .._submodular import facility_location_batched
from .._utils.budget import split_budget

__all__ = ["check_rows", "draw_random_subsets", "plan", "subset_coresets"]


def subset_coresets(F, ys, sizes):
    """One mini-batch coreset per random subset (per class when labels are given).

    ``F`` stacks the features of the random subsets, ``ys`` gives each
    subset's labels (``None`` entries: one group per subset) and ``sizes``
    their coreset sizes.  All the (subset, class) facility-location problems
    are solved together
    (:func:`~sksubset._submodular.facility_location_batched`).  Returns,
    per subset, local row indices and weights (points served); a subset's
    weights sum to its number of rows.  A problem whose rows are all identical
    (all gradients zero, say) is represented equally well by any of its
    medoids, so its rows are shared out evenly among them (weights differing by
    at most one, as CRAIG does), with a warning, instead of all but a few going
    to the first pick by the tie rule.
    """
    groups, ks, plans, start = [], [], [], 0
    for y_sub, size in zip(ys, sizes):
        m = len(y_sub)
        grp = [np.flatnonzero(y_sub == c) for c in np.unique(y_sub)]
        parts = split_budget(size, [len(g) for g in grp])  # one slot per class if possible
        served = [g for g, p in zip(grp, parts) if p > 0]
        unserved = [g for g, p in zip(grp, parts) if p == 0]
        plans.append((start, len(groups), len(served), unserved))
        groups += [start + g for g in served]
        ks += [int(p) for p in parts if p > 0]
        start += m
    solved = facility_location_batched(F, groups, ks)
    n_identical = 0
    for j, (g, (chosen, _)) in enumerate(zip(groups, solved)):
        if len(chosen) > 1:
            rows = F[torch.as_tensor(g, device=F.device)]
            if bool((rows == rows[:1]).all()):
                n_identical += 1
                solved[j] = (chosen, np.bincount(np.arange(len(g)) % len(chosen),
                                                 minlength=len(chosen)).astype(np.float64))
    if n_identical:
        warnings.warn(f"CREST: all rows of {n_identical} of the {len(groups)} (random subset, "
                      f"class) problems are identical (all gradients zero?), so any of their "
                      f"medoids represents them equally; their rows are shared out evenly.",
                      UserWarning, stacklevel=4)
    out = []
    for start, first, count, unserved in plans:
        idx = np.concatenate([groups[first + j][solved[first + j][0]] - start
                              for j in range(count)])
        w = np.concatenate([solved[first + j][1] for j in range(count)])
        if unserved:  # fewer coreset slots than classes: the nearest medoid of any class serves
            rest = torch.as_tensor(start + np.concatenate(unserved), device=F.device)
            near = torch.cdist(F[rest], F[torch.as_tensor(start + idx, device=F.device)]).argmin(1)
            w += np.bincount(near.cpu().numpy(), minlength=len(idx))
        out.append((idx, w))
    return out


def draw_random_subsets(pool, y, sizes, rng):
    """Disjoint random subsets of ``pool`` with ``sizes`` rows (``sum(sizes) <= len(pool)``).

    Stratified by ``y``: the pool is put in a random *systematic* order (the
    ``j``-th of a class's ``n_c`` shuffled rows gets the key ``(j + u_c) / n_c``
    with a random offset ``u_c``), so that every run of consecutive rows holds
    each class in proportion to its share of the pool, up to rounding; the
    subsets are consecutive runs of that order.  A class of the pool that no
    run holds (a class of a few rows, when the subsets cover part of the pool)
    takes the place of a random row of the commonest class of the subset where
    that class is commonest, so that every class can have a medoid.
    """
    pool = np.asarray(pool, dtype=np.int64)
    if y is None:
        order = rng.permutation(pool)
    else:
        yp = y[pool]
        keys = np.empty(len(pool))
        for c in np.unique(yp):
            rows = np.flatnonzero(yp == c)
            keys[rng.permutation(rows)] = (np.arange(len(rows)) + rng.uniform()) / len(rows)
        order = pool[np.lexsort((rng.permutation(len(pool)), keys))]
    ends = np.cumsum(sizes)
    subsets = [np.sort(order[e - s:e]) for s, e in zip(sizes, ends)]
    if y is not None:
        drawn = np.concatenate(subsets)
        for c in np.setdiff1d(np.unique(y[pool]), y[drawn]):
            counts = [np.bincount(y[sub]) for sub in subsets]
            j = int(np.argmax([cnt.max() for cnt in counts]))
            big = int(np.argmax(counts[j]))
            if counts[j][big] < 2:  # no subset has a row to spare
                break
            sub = subsets[j].copy()
            sub[rng.choice(np.flatnonzero(y[sub] == big))] = rng.choice(pool[yp == c])
            subsets[j] = np.sort(sub)
    return subsets


def plan(k, batch_size, n_subsets, subset_fraction, n, n_pool):
    """Coreset sizes (summing to ``k``) and random-subset sizes (disjoint in the pool).

    A random subset holds ``ceil(subset_fraction * n)`` rows, but never fewer
    than its coreset, nor more than an even share of the pool (so the subsets
    stay disjoint; an even share is never smaller than the coreset because
    ``k <= n_pool``).
    """
    n_sub = n_subsets if n_subsets is not None else math.ceil(k / batch_size)
    n_sub = max(1, min(int(n_sub), k))
    sizes = [k // n_sub + (i < k % n_sub) for i in range(n_sub)]
    shares = [n_pool // n_sub + (i < n_pool % n_sub) for i in range(n_sub)]
    target = math.ceil(subset_fraction * n)
    m = [min(max(target, c), s) for c, s in zip(sizes, shares)]
    return sizes, m


def check_rows(sizes, check_fraction, n):
    """Rows of the check sample: the first random subsets, ``check_fraction * n`` rows at least.

    The random subsets are consecutive runs of one stratified random order, so
    their first few together are a stratified random sample too.  At least one
    subset, at most all of them.
    """
    ends = np.cumsum(sizes)
    j = int(np.searchsorted(ends, math.ceil(check_fraction * n)))
    return int(ends[min(j, len(ends) - 1)])
