"""Submodular greedy maximization: facility location, and the greedy maximizers that
CRAIG, CREST and GLISTER share.

Facility location
-----------------
``F(S) = sum_i max_{j in S} sim(i, j)`` with ``sim(i, j) = D - d(g_i, g_j)`` over
``|S| <= k``, maximized greedily (a ``1 - 1/e`` approximation, since ``F`` is monotone
submodular for a non-negative ``sim``); each chosen ``j`` is weighted by the number of
points it serves (ties go to the earlier pick).  ``metric`` selects ``d``:
``"euclidean"``, ``"sqeuclidean"`` or ``"cosine"`` (``1 - cos``, in ``[0, 2]``).  ``D``
bounds every distance of the ground set: ``2 max_i ||g_i - mean||`` for the euclidean
distance (triangle inequality through the mean), its square for ``"sqeuclidean"``, ``2``
for ``"cosine"``.  Any ``D`` at least as large gives the *same* greedy selection (the
gains ``sum_i max(0, d_i(S) - d(i, c))`` do not depend on ``D``); only ``F`` shifts.

No ``n x n`` matrix is formed: distance columns are computed for a block of
``chunk_size`` candidates at a time from Gram products, and for last-layer gradients
given by their factors from ``g_i . g_j = (e_i . e_j)(hb_i . hb_j)`` (``O(C + H)`` per
pair instead of ``O(C H)``).

Greedy maximizers
-----------------
* ``"naive"``: every step evaluates the gain of every remaining candidate;
* ``"lazy"`` (facility location): lazy greedy (Minoux 1978).  Gains only shrink as
  ``S`` grows, so a stale gain is an upper bound; each step refreshes the block of the
  candidate with the largest bound until that candidate's gain is fresh.  A block's
  gains are computed exactly as the naive greedy computes them and ties go to the
  smallest index in both, so it returns *the same* selection as ``"naive"``;
* ``"stochastic"``: stochastic greedy (Mirzasoleiman et al., AAAI 2015): each step
  evaluates :func:`stochastic_sample_size` remaining candidates drawn at random,
  ``O(n log(1/epsilon))`` evaluations in all, a ``1 - 1/e - epsilon`` approximation in
  expectation.

:func:`greedy_picks` is the naive/stochastic loop over any gain function (GLISTER);
:func:`facility_location_greedy` runs all three on facility location (CRAIG) and
:func:`facility_location_batched` many small problems together (CREST).
"""

import math

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["METRICS", "Ground", "facility_location_batched", "facility_location_greedy",
           "greedy_picks", "pairwise_distances", "sample_remaining", "stochastic_sample_size"]

#: distances of facility location
METRICS = ("euclidean", "sqeuclidean", "cosine")

#: facility_location_batched: groups with more rows go through the lazy greedy (no m x m matrix)
_STACK_MAX_ROWS = 2048
#: facility_location_batched: largest ``groups x m x m`` distance tensor (float64: 128 MiB)
_STACK_MAX_ELEMENTS = 1 << 24


def stochastic_sample_size(n, k, epsilon):
    """Candidates a stochastic-greedy step evaluates: ``ceil((n / k) log(1 / epsilon))``."""
    return math.ceil(n / max(k, 1) * math.log(1.0 / epsilon))


def sample_remaining(left, n_left, s, rng):
    """``min(s, n_left)`` distinct indices where ``left`` is True, uniformly, sorted.

    Rejection sampling costs ``O(s)`` per draw while most rows remain (the
    budget is a fraction of them); when few remain, they are listed.
    """
    if s >= n_left or n_left < 4 * s:
        rem = np.flatnonzero(left)
        return np.sort(rng.choice(rem, size=min(s, n_left), replace=False))
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < s:
        draw = rng.randint(0, len(left), size=2 * s)
        chosen = np.unique(np.concatenate([chosen, draw[left[draw]]]))
    return np.sort(rng.permutation(chosen)[:s])


def greedy_picks(n, k, score, update, *, update_every, optimizer, epsilon, rng, device):
    """The naive or stochastic greedy loop, independent of how gains are computed.

    ``score(cols)`` returns the gains of candidate rows ``cols`` (a long
    tensor) at the current linearization; ``update(picks)`` moves the
    parameters by the picks' step and re-linearizes.  Returns the picks in
    order and the gain of each when it was picked.
    """
    k = min(int(k), n)
    remaining = torch.ones(n, dtype=torch.bool, device=device)
    left = np.ones(n, dtype=bool)  # host copy of ``remaining``
    picks, gains = [], []
    n_picked = 0
    if optimizer == "stochastic":
        s = stochastic_sample_size(n, k, epsilon)
    while n_picked < k:
        if optimizer == "stochastic":
            cand = torch.as_tensor(sample_remaining(left, n - n_picked, s, rng), device=device)
        else:
            cand = torch.nonzero(remaining).squeeze(1)
        g = score(cand)
        m = min(update_every, k - n_picked, len(cand))
        # among equal gains the smallest index comes first
        if m == 1:
            order = torch.argmax(g).reshape(1)
        else:
            order = torch.sort(g, descending=True, stable=True).indices[:m]
        new = cand[order]
        remaining[new] = False
        left[new.cpu().numpy()] = False
        picks.append(new)
        gains.append(g[order])
        n_picked += len(new)
        if n_picked < k:
            update(new)
    return (torch.cat(picks).cpu().numpy().astype(np.int64),
            torch.cat(gains).double().cpu().numpy())


class Ground:
    """A ground set whose rows are Kronecker products of the rows of its factors.

    With one factor ``F`` the rows are ``F``'s rows; with two, row ``i`` is
    ``F1[i] (x) F2[i]`` (e.g. ``e_i (x) [1, h_i]``), never formed.
    """

    def __init__(self, factors, metric):
        if not 1 <= len(factors) <= 2:
            raise ValueError("a ground set takes one or two factors")
        self.factors = factors
        self.metric = metric
        self.n = len(factors[0])
        sq = None
        for F in factors:
            s = (F * F).sum(1)
            sq = s if sq is None else sq * s
        self.sq = sq
        self.norm = sq.sqrt()

    def dot(self, cols):
        """Inner products of all rows with rows ``cols``: ``(n, len(cols))``."""
        out = None
        for F in self.factors:
            K = F @ F[cols].T
            out = K if out is None else out * K
        return out

    def dist(self, cols):
        """Distances of all rows to rows ``cols`` (``(n, m)``), exact 0 on the diagonal."""
        dot = self.dot(cols)
        if self.metric == "cosine":
            denom = self.norm[:, None] * self.norm[cols][None, :]
            cos = torch.where(denom > 0, dot / denom.clamp_min(torch.finfo(dot.dtype).tiny),
                              torch.zeros((), dtype=dot.dtype, device=dot.device))
            d = (1.0 - cos).clamp(0.0, 2.0)
        else:
            d = (self.sq[:, None] + self.sq[cols][None, :] - 2.0 * dot).clamp_min(0.0)
            if self.metric == "euclidean":
                d = d.sqrt()
        d[cols, torch.arange(len(cols), device=d.device)] = 0.0
        return d

    def identical(self):
        """Whether all rows are the same vector (every distance zero)."""
        if float(self.sq.max()) == 0:
            return True
        return all(bool((F == F[:1]).all()) for F in self.factors)

    def bound(self):
        """A constant ``D`` no smaller than any distance of the ground set."""
        if self.metric == "cosine":
            return 2.0
        fs = [F.to(torch.float64) for F in self.factors]
        n = self.n
        sq = self.sq.to(torch.float64)
        if len(fs) == 1:
            m = fs[0].mean(0)
            gm, mm = fs[0] @ m, m @ m
        else:
            M = fs[0].T @ fs[1] / n  # the mean row, as a (d1, d2) matrix
            gm = ((fs[0] @ M) * fs[1]).sum(1)
            mm = (M * M).sum()
        radius = float((sq - 2.0 * gm + mm).clamp_min(0.0).max().sqrt())
        D = 2.0 * radius * (1.0 + 1e-6) + 1e-12
        return D * D if self.metric == "sqeuclidean" else D


def _chunk(chunk_size, device):
    """Columns of one distance block: ``chunk_size``, or "auto": 64 on CPU, 1024 on a GPU."""
    if chunk_size == "auto":
        return 1024 if torch.device(device).type == "cuda" else 64
    return max(1, int(chunk_size))


def facility_location_greedy(ground, k, *, optimizer="lazy", epsilon=0.01, chunk_size="auto",
                             rng=None):
    """Greedy facility location on a ``Ground`` (see the module docstring).

    Returns
    -------
    chosen : ndarray of shape (k,)
        Local indices, in greedy order.
    weights : ndarray of shape (k,)
        Number of points each chosen one serves (float64, >= 1).
    assign : ndarray of shape (n,)
        Local index of the chosen point serving each point.
    objective : float
        ``F(S) = sum_i (D - d_i(S))``.
    n_evaluations : int
        Candidate gains computed.
    D : float
    """
    n = ground.n
    k = min(int(k), n)
    dev = ground.sq.device
    dtype = ground.sq.dtype
    D = ground.bound()
    cur = torch.full((n,), D, dtype=dtype, device=dev)
    assign = torch.full((n,), -1, dtype=torch.long, device=dev)
    removed = np.zeros(n, dtype=bool)
    chosen = []
    n_eval = 0
    cs = _chunk(chunk_size, dev)
    starts = list(range(0, n, cs))
    arange = torch.arange(n, device=dev)

    def block(b):
        return arange[starts[b]:starts[b] + cs]

    def block_gains(b):
        d = ground.dist(block(b))
        return (cur[:, None] - d).clamp_min(0.0).sum(0).double().cpu().numpy()

    def column(c):
        if optimizer == "stochastic":
            return ground.dist(arange[c:c + 1])[:, 0]
        b = c // cs
        return ground.dist(block(b))[:, c - starts[b]]

    if optimizer == "lazy":
        bounds = np.full(n, np.inf)
        fresh = np.full(n, -1)
    if optimizer == "stochastic":
        rng = check_random_state(rng)
        s = stochastic_sample_size(n, k, epsilon)
    for step in range(k):
        if optimizer == "naive":
            gains = np.concatenate([block_gains(b) for b in range(len(starts))])
            n_eval += n
            gains[removed] = -np.inf
            c = int(np.argmax(gains))
        elif optimizer == "lazy":
            while True:
                c = int(np.argmax(bounds))
                if fresh[c] == step:
                    break
                b = c // cs
                g = block_gains(b)
                sl = slice(starts[b], starts[b] + len(g))
                n_eval += len(g)
                bounds[sl] = np.where(removed[sl], -np.inf, g)
                fresh[sl] = step
        else:
            remaining = np.flatnonzero(~removed)
            sample = np.sort(rng.choice(remaining, size=min(s, len(remaining)), replace=False))
            cols = torch.as_tensor(sample, device=dev)
            gains = np.concatenate([
                (cur[:, None] - ground.dist(cols[i:i + cs])).clamp_min(0.0).sum(0)
                .double().cpu().numpy() for i in range(0, len(sample), cs)])
            n_eval += len(sample)
            c = int(sample[np.argmax(gains)])
        chosen.append(c)
        removed[c] = True
        if optimizer == "lazy":
            bounds[c] = -np.inf
        dc = column(c)
        closer = (dc < cur) | (assign < 0)
        closer[c] = True
        assign = torch.where(closer, torch.full_like(assign, c), assign)
        cur = torch.minimum(cur, dc)
    chosen = np.asarray(chosen, dtype=np.int64)
    assign = assign.cpu().numpy()
    pos = np.full(n, -1, dtype=np.int64)
    pos[chosen] = np.arange(len(chosen))
    weights = np.bincount(pos[assign], minlength=len(chosen)).astype(np.float64)
    objective = float((D - cur.double()).sum())
    return chosen, weights, assign, objective, n_eval, D


def facility_location_batched(F, groups, ks, *, metric="euclidean", chunk_size="auto"):
    """Greedy facility location on many small groups of rows of ``F`` at once.

    Returns, for every group ``g`` (row indices into ``F``), exactly the
    ``chosen`` and ``weights`` of ``facility_location_greedy(Ground([F[g]],
    metric), ks[g], chunk_size=chunk_size)`` (same picks, order, tie-breaking
    and weights), for the many small problems of one CREST selection, which a
    Python loop would spend mostly in per-step overhead.

    Groups of equal size ``m`` are stacked, in batches of at most
    ``_STACK_MAX_ELEMENTS`` distances, into an ``(S, m, m)`` tensor whose
    columns come from the same ``Ground`` calls (same column blocks of
    ``chunk_size``, same bound ``D``) as the per-group solver; each greedy
    step evaluates every candidate's gain ``sum_i max(0, cur_i - d_ij)`` (the
    naive greedy, whose selection the lazy greedy returns) for all groups at
    once, without padding.  Groups larger than ``_STACK_MAX_ROWS`` rows go to
    :func:`facility_location_greedy` (lazy, no ``m x m`` matrix).

    Parameters
    ----------
    F : torch.Tensor of shape (n_rows, n_features)
        Features of all the groups' rows.
    groups : list of array-like of int
        Row indices into ``F``, one non-empty array per problem; groups may
        share rows and need not be sorted.
    ks : list of int
        Number of medoids per group (capped at the group's size).
    metric : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance of the similarity ``D - d`` (module docstring).
    chunk_size : int >= 1 or "auto", default="auto"
        Column blocks of the distance computations, as in
        :func:`facility_location_greedy` (so the distances are bit-identical).

    Returns
    -------
    list of (chosen, weights)
        One pair per group: ``chosen`` (ndarray of int64, local indices into
        the group, greedy order) and ``weights`` (float64, the number of the
        group's points each pick serves, >= 1, summing to ``len(g)``), as
        returned by :func:`facility_location_greedy`.
    """
    out = [None] * len(groups)
    by_size = {}
    for i, g in enumerate(groups):
        if len(g) > _STACK_MAX_ROWS:
            ground = Ground([F[torch.as_tensor(g, device=F.device)]], metric)
            out[i] = facility_location_greedy(ground, ks[i], chunk_size=chunk_size)[:2]
        else:
            by_size.setdefault(len(g), []).append(i)
    for m, members in by_size.items():
        step = max(1, _STACK_MAX_ELEMENTS // (m * m))
        for start in range(0, len(members), step):
            batch = members[start:start + step]
            res = _facility_location_stacked(F, [groups[i] for i in batch],
                                             [ks[i] for i in batch], metric, chunk_size)
            for i, r in zip(batch, res):
                out[i] = r
    return out


def _facility_location_stacked(F, groups, ks, metric, chunk_size):
    """One batch of :func:`facility_location_batched`: ``S`` groups of ``m`` rows each."""
    dev = F.device
    S, m = len(groups), len(groups[0])
    cs = _chunk(chunk_size, dev)                 # the column blocks of facility_location_greedy
    blocks = [(b, min(b + cs, m)) for b in range(0, m, cs)]
    cols = [torch.arange(b, e, device=dev) for b, e in blocks]
    d = torch.empty((S, m, m), dtype=F.dtype, device=dev)
    Ds = []
    for s, g in enumerate(groups):
        ground = Ground([F[torch.as_tensor(g, device=dev)]], metric)
        Ds.append(ground.bound())
        for (b, e), c in zip(blocks, cols):
            d[s, :, b:e] = ground.dist(c)
    cur = torch.as_tensor(Ds, dtype=F.dtype, device=dev)[:, None].repeat(1, m)
    assign = torch.full((S, m), -1, dtype=torch.long, device=dev)
    removed = torch.zeros((S, m), dtype=torch.bool, device=dev)
    kk = np.minimum(np.asarray(ks, dtype=np.int64), m)
    chosen = torch.zeros((S, int(kk.max())), dtype=torch.long, device=dev)
    for step in range(int(kk.max())):
        live = torch.as_tensor(np.flatnonzero(kk > step), device=dev)   # groups still choosing
        L = len(live)
        if L == S:                              # no copies while every group is choosing
            d_l, cur_l, a_l, r_l = d, cur, assign, removed
        else:
            d_l, cur_l, a_l, r_l = d[live], cur[live], assign[live], removed[live]
        gains = (cur_l[:, :, None] - d_l).clamp_min(0.0).sum(1)          # (L, m)
        gains.masked_fill_(r_l, -math.inf)
        c = gains.argmax(1)                     # the first maximum: smallest index
        rows = torch.arange(L, device=dev)
        chosen[live, step] = c
        removed[live, c] = True
        dc = d_l[rows, :, c]                    # (L, m): distances to the new medoid
        closer = (dc < cur_l) | (a_l < 0)
        closer[rows, c] = True
        assign[live] = torch.where(closer, c[:, None], a_l)
        cur[live] = torch.minimum(cur_l, dc)
    served = torch.zeros((S, m), dtype=torch.float64, device=dev)
    served.scatter_add_(1, assign, torch.ones((S, m), dtype=torch.float64, device=dev))
    weights = served.gather(1, chosen).cpu().numpy()
    chosen = chosen.cpu().numpy()
    return [(chosen[s, :kk[s]], weights[s, :kk[s]]) for s in range(S)]


def pairwise_distances(G, metric="euclidean", *, factors=None):
    """Explicit distance matrix (for small inputs and tests).

    ``G`` is ``(n, d)``; alternatively ``factors=(E, Hb)`` gives the rows
    ``E[i] (x) Hb[i]`` without forming them.
    """
    if factors is None:
        factors = [torch.as_tensor(G)]
    ground = Ground(list(factors), metric)
    return ground.dist(torch.arange(ground.n, device=ground.sq.device))
