"""GRAD-MATCH's problems handed to the batched OMP solver (see :mod:`sksubset.selectors.gradmatch`).

One problem per group of rows (a class, or all rows), solved together by the
batched OMP (:func:`sksubset.omp.omp_batched`'s :func:`solve_batched
<sksubset.omp._batched.solve_batched>`) on dense rows or on last-layer
factors.  The selector's relative ``lam`` is one ridge for all the problems of
a call: ``lam`` times the mean squared norm of every candidate row, all
classes together (:func:`ridge`); the rows are rescaled by a power of two
where float32 products would overflow or underflow
(:func:`~sksubset.omp._scale.power_of_two`), which changes neither the
selection nor the weights.
"""

import warnings
from dataclasses import replace

import numpy as np
import torch

from .._utils.budget import split_budget
from ..gradients import class_gradients, gradient_sum
from ..omp import DenseAtoms, OuterProductAtoms
from ..omp._batched import solve_batched, warn_shortfalls
from ..omp._options import SearchOptions, atoms_per_step
from ..omp._scale import power_of_two
from ._rows import group_rows

__all__ = ["fit_dense", "fit_factored", "group_targets", "relative_error", "ridge",
           "solve_dense", "solver_flops", "split_problems"]

#: a step's fixed work (launching its few dozen small tensor operations), in flops: on a CPU
#: core a step of a small problem costs about this much more than its arithmetic
STEP_FLOPS = 2e6

#: what a flop of the solver costs next to one of training (its batched factorizations,
#: triangular solves and thin products run at a lower rate than a training step's products:
#: measured 1.5 on a tabular MLP's rounds, one CPU core)
SOLVER_FLOP_COST = 1.5


def _pad(blocks):
    """Stack row blocks ``(n_i, ...)`` into ``(B, n_max, ...)`` plus a validity mask."""
    if len(blocks) == 1:
        return blocks[0].unsqueeze(0), None
    n_max = max(len(a) for a in blocks)
    out = blocks[0].new_zeros((len(blocks), n_max) + tuple(blocks[0].shape[1:]))
    valid = torch.zeros(len(blocks), n_max, dtype=torch.bool, device=out.device)
    for i, a in enumerate(blocks):
        out[i, :len(a)] = a
        valid[i, :len(a)] = True
    return out, valid


#: a problem joins the group of a larger one while its budget and its rows are at least this share
#: of the group's first (largest) problem's: padding a group to its largest problem then costs
#: at most about ``1 / BUCKET_SHARE`` of its work
BUCKET_SHARE = 0.8


def _buckets(sizes, ks):
    """The problems in groups of similar size, each solved as one batch.

    Batched problems are padded to the largest one's rows and budget, and the
    support's factorizations cost the cube of the budget: ten classes of
    unequal sizes padded together (an imbalanced data set) cost up to ten
    times the largest class's problem.  Sorted by budget (then rows), a
    problem joins the group before it while its budget and rows are at least
    :data:`BUCKET_SHARE` of that group's first; balanced classes stay one
    batch.
    """
    order = sorted(range(len(ks)), key=lambda i: (-int(ks[i]), -int(sizes[i])))
    groups = []
    for i in order:
        first = groups[-1][0] if groups else None
        if (first is not None and ks[i] >= BUCKET_SHARE * ks[first]
                and sizes[i] >= BUCKET_SHARE * sizes[first]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def ridge(make_atoms, blocks, opts):
    """``opts`` with the relative ``lam`` turned into the absolute ridge ``lam * s2``, ``s2`` the
    mean squared norm of the candidate rows of every problem (``blocks``, as :func:`_solve`
    takes them) together."""
    sq = sum(float(make_atoms(*(b.unsqueeze(0) for b in block)).sqnorms().sum())
             for block in blocks)
    s2 = sq / max(sum(len(block[0]) for block in blocks), 1)
    return dict(opts, lam=float(opts["lam"]) * s2)


def _solve(make_atoms, blocks, targets, ks, opts):
    """Solve one OMP per problem, problems of similar size batched together (:func:`_buckets`);
    returns (local indices, weights, stats): ``stats`` holds the most non-negative refits of
    a problem (``"omp_rounds"``) and whether the Cholesky search fell back to the basis
    (``"solver_fallback"``).

    ``blocks[p]`` holds problem ``p``'s atoms as a tuple of row blocks (``(rows,)`` dense,
    ``(E, H)`` factors), which ``make_atoms`` turns into atoms once padded.  ``opts`` holds
    the solver's keywords (``lam``, relative to the rows of all the problems together and
    made absolute by :func:`ridge`; ``tol``, ``positive``, ``criterion``, ``per_step``).  A
    problem that comes back with fewer rows than its budget without reaching ``tol`` gets a
    warning.  A problem whose target is zero is matched exactly by zero weights, which train
    on nothing: it gets ``k`` evenly spaced rows with equal weights summing to its number of
    rows instead, and a warning.
    """
    sizes = [len(b[0]) for b in blocks]
    idx, w, out = [None] * len(ks), [None] * len(ks), [None] * len(ks)
    options = SearchOptions(**ridge(make_atoms, blocks, opts))
    for group in _buckets(sizes, ks):
        parts = [_pad([blocks[p][j] for p in group]) for j in range(len(blocks[group[0]]))]
        atoms = make_atoms(*(part for part, _ in parts))
        b = torch.stack([targets[p].to(device=atoms.device, dtype=torch.float64)
                         for p in group])
        for p, r in zip(group, solve_batched(atoms, b, [ks[p] for p in group], parts[0][1],
                                             options)):
            idx[p], w[p], out[p] = r.indices.cpu().numpy(), r.weights.cpu().numpy(), r
    zero = [bool((t == 0).all()) for t in targets]
    warn_shortfalls("GRAD-MATCH", [r for r, z in zip(out, zero) if not z], stacklevel=4)
    stats = {"omp_rounds": max([r.n_rounds for r in out] + [0]),
             "solver_fallback": any(r.fallback for r in out)}
    for p in range(len(ks)):
        if not bool((targets[p] == 0).all()):
            continue
        k = min(int(ks[p]), sizes[p])
        if k == 0:
            continue
        warnings.warn(f"GRAD-MATCH: the gradient to match is zero (problem {p}: all "
                      f"gradients zero?), which zero weights match exactly; taking {k} "
                      f"evenly spaced rows with equal weights instead.", UserWarning,
                      stacklevel=3)
        idx[p] = (np.arange(k) * sizes[p]) // k
        w[p] = np.full(k, sizes[p] / k)
    return idx, w, stats


def split_problems(groups, ks, max_support):
    """Each group whose budget exceeds ``max_support`` as ``ceil(k / max_support)`` problems over
    interleaved parts of its rows (``rows[j::parts]``), the budget split in proportion.

    A problem's support costs the cube of its budget to factor; parts of at most
    ``max_support`` rows each cost a bounded amount, and matching each part's own
    gradient matches their sum.  ``groups`` are row arrays (or row counts, for a
    prediction of the cost).  Returns the groups, their budgets and, for each, the
    index of the group it came from.
    """
    out, out_k, origin = [], [], []
    for i, (g, k) in enumerate(zip(groups, ks)):
        parts = 1 if max_support is None else max(1, -(-int(k) // int(max_support)))
        if isinstance(g, (int, np.integer)):
            chunks = [(int(g) + parts - 1 - j) // parts for j in range(parts)]
            sizes = chunks
        else:
            chunks = [g[j::parts] for j in range(parts)]
            sizes = [len(c) for c in chunks]
        out += chunks
        out_k += split_budget(int(k), sizes).tolist() if parts > 1 else [int(k)]
        origin += [i] * parts
    return out, out_k, origin


def solver_flops(pools, ks, width, per_step):
    """Predicted flops of the factored solver on problems of ``pools[p]`` candidates and budgets
    ``ks[p]``, atoms ``vec(e h^T)`` of ``width = (C, m + 1)``, ``per_step`` atoms a step.

    Counts, per problem: a pass of correlations over its candidates per greedy
    step (``2 n C (m + 1)``, the floor of a round); the support's Gram rows,
    triangular solves and residuals as it grows (``k^2 (C + m + 1) + k^3 / 3``);
    the non-negative refit's Gram and factor (``k^2 (C + m + 1) + k^3 / 3``);
    and :data:`STEP_FLOPS` a greedy step of each batch of similar problems
    (:func:`_buckets`); all of it times :data:`SOLVER_FLOP_COST`.
    """
    C, m1 = width
    steps = [-(-int(k) // s) for k, s in zip(ks, atoms_per_step(per_step, ks))]
    total = sum(2.0 * n * C * m1 * t + 2 * k * k * (C + m1) + 2 * k ** 3 / 3
                for n, k, t in zip(pools, ks, steps))
    total += STEP_FLOPS * sum(max(steps[p] for p in b) for b in _buckets(list(pools), list(ks)))
    return SOLVER_FLOP_COST * total


def solve_dense(blocks, targets, ks, opts):
    """:func:`_solve` on dense row blocks, one problem per block; ``opts["lam"]`` relative to the
    mean squared norm of all the blocks' rows.  The blocks and targets are rescaled by one power
    of two where their magnitude would overflow or underflow float32 products."""
    top = max((float(a.abs().max()) for a in blocks if a.numel()), default=0.0)
    c = power_of_two(top)
    if c != 1.0:
        blocks = [a * c for a in blocks]
        targets = [t * c for t in targets]
    return _solve(DenseAtoms, [(a,) for a in blocks], targets, ks, opts)


def relative_error(G_sel, weights, target):
    """``||G_sel^T w - target|| / ||target||`` in float64."""
    target = target.to(torch.float64)
    w = torch.as_tensor(weights, device=G_sel.device, dtype=torch.float64)
    resid = w @ G_sel.to(torch.float64) - target
    return float(resid.norm() / target.norm().clamp_min(1e-300))


def group_targets(ll, groups, valid, scale, per_class):
    """The full-gradient target of each group of rows of ``ll``.

    The group's gradient sum times ``scale`` (one for all groups, or one a
    group); with held-out data ``valid``
    (a :class:`LastLayer`), its gradient sum (of the group's class with
    ``per_class``) rescaled to the group's size instead, a class that
    ``valid`` lacks keeping its own training gradient.
    """
    yv = None if valid is None else valid.y.cpu().numpy()
    scales = scale if isinstance(scale, (list, tuple)) else [scale] * len(groups)
    out = []
    for g, scale in zip(groups, scales):
        src, src_scale = ll[torch.as_tensor(g, device=ll.E.device)], scale
        if valid is not None:
            vr = np.flatnonzero(yv == int(ll.y[g[0]])) if per_class else np.arange(len(yv))
            if len(vr):
                src = valid[torch.as_tensor(vr, device=valid.E.device)]
                src_scale = len(g) * scale / len(vr)
        out.append(src.gradient_sum.to(ll.E.device) * src_scale)
    return out


def fit_factored(ll, groups, full_targets, ks, opts, per_gradient):
    """Per-example GRAD-MATCH on the factors of ``ll``, one problem per group of rows.

    ``full_targets`` holds each group's target over all columns (only the
    group's own class block is matched with ``per_gradient``).  The
    per-example gradients are never formed: the atoms are
    :class:`~sksubset.omp.OuterProductAtoms` (own-class blocks, ``(n, H + 1)``,
    with ``per_gradient``).  Returns rows of ``ll``, weights, the relative
    error against the sum of the full targets and the solver's rounds.
    """
    if per_gradient and ll.loss is not None:
        raise ValueError("per_gradient=True matches each class's gradient on its own output "
                         "unit; a regressor's gradients have no classes. Use "
                         "per_gradient=False.")
    subs = [ll[torch.as_tensor(g, device=ll.E.device)] for g in groups]
    H1 = ll.Hb.shape[1]
    # gradients are bilinear in (E, Hb): scale each by a power of two (and the targets by
    # both) where its magnitude would overflow or underflow the solver's products; the
    # weights are unchanged
    ce = power_of_two(max((float(s.E.abs().max()) for s in subs if len(s)), default=0.0))
    ch = power_of_two(max((float(s.Hb.abs().max()) for s in subs if len(s)), default=0.0))
    scale = ce * ch
    if scale != 1.0:
        subs = [replace(sub, E=sub.E * ce, Hb=sub.Hb * ch) for sub in subs]
        full_targets = [t * scale for t in full_targets]
    if per_gradient:
        targets = [t[int(sub.y[0]) * H1:(int(sub.y[0]) + 1) * H1]
                   for sub, t in zip(subs, full_targets)]
        idx_l, w_l, stats = _solve(DenseAtoms, [(class_gradients(sub.E, sub.Hb, sub.y),)
                                                for sub in subs], targets, ks, opts)
    else:
        idx_l, w_l, stats = _solve(OuterProductAtoms, [(sub.E, sub.Hb) for sub in subs],
                                   full_targets, ks, opts)
    local = np.concatenate([g[i] for g, i in zip(groups, idx_l)]).astype(np.int64)
    weights = np.concatenate(w_l)
    # the error from the factors too: sum_i w_i e_i [1, h_i]^T, never the rows
    it = torch.as_tensor(local, device=ll.E.device)
    w = torch.as_tensor(weights, device=ll.E.device, dtype=torch.float64)
    approx = gradient_sum(ll.E[it].to(torch.float64) * w[:, None], ll.Hb[it].to(torch.float64))
    target = sum(full_targets).to(torch.float64) / scale
    err = float((approx - target).norm() / target.norm().clamp_min(1e-300))
    return local, weights, err, stats


def fit_dense(G, k, y, target, opts, per_gradient):
    """Standalone GRAD-MATCH on a validated gradient matrix; ``y=None``: one problem.

    ``target``: None (each problem matches its rows' sum), a vector (one
    problem) or one row per class.
    """
    n, d = G.shape
    if y is None:
        b = G.sum(0) if target is None else target
        idx, w, stats = solve_dense([G], [b], [k], opts)
        return idx[0], w[0], relative_error(G[idx[0]], w[0], b), stats
    classes, rows = group_rows(y)
    C = len(classes)
    if per_gradient and d % C:
        raise ValueError(f"per_gradient=True needs G's columns in {C} equal blocks (one per "
                         f"class); {d} columns do not split into {C}.")
    width = d // C
    blocks, targets = [], []
    for c, r in enumerate(rows):
        cols = slice(c * width, (c + 1) * width) if per_gradient else slice(None)
        blocks.append(G[r][:, cols])
        targets.append(blocks[-1].sum(0) if target is None else target[c, cols])
    ks = split_budget(k, [len(r) for r in rows]).tolist()
    idx_l, w_l, stats = solve_dense(blocks, targets, ks, opts)
    idx = np.concatenate([r[i] for r, i in zip(rows, idx_l)])
    w = np.concatenate(w_l)
    full_target = G.sum(0) if target is None else target.sum(0)
    return idx, w, relative_error(G[idx], w, full_target), stats
