"""CRAIG (Mirzasoleiman, Bilmes & Leskovec, ICML 2020): weighted medoids of the gradients.

CRAIG picks ``k`` examples whose gradients are close to everybody else's and
weights each by the number of examples it stands for.  It maximizes the
*facility-location* function::

    F(S) = sum_i max_{j in S} sim(i, j),     sim(i, j) = D - d(g_i, g_j)

over ``|S| <= k`` with the greedy algorithm (a ``1 - 1/e`` approximation, since
``F`` is monotone submodular for a non-negative ``sim``), then gives each chosen
``j`` the weight ``gamma_j = |{i : j is i's closest chosen point}|`` (ties go to
the earlier pick).  The weights are integers >= 1 and sum to the number of
examples served.

Distances and the constant ``D``
--------------------------------
``metric`` selects ``d``: ``"euclidean"`` (``||g_i - g_j||``, the paper's),
``"sqeuclidean"`` (its square, what CORDS uses) or ``"cosine"``
(``1 - cos(g_i, g_j)``, in ``[0, 2]``).  ``D`` is an upper bound of all the
distances of the ground set, so that every similarity is non-negative:
``2 max_i ||g_i - mean||`` for the euclidean distance (triangle inequality
through the mean), its square for ``"sqeuclidean"`` and ``2`` for
``"cosine"``.  CORDS takes the largest pairwise distance instead; any ``D`` at
least as large gives the *same* greedy selection (the greedy gains
``sum_i max(0, d_i(S) - d(i, c))`` do not depend on ``D``), only the value of
``F`` shifts by ``n (D - D')``.

Memory and cost
---------------
No ``n x n`` matrix is formed.  Distance columns are computed on demand, for
a block of ``chunk_size`` candidates at a time, from Gram products; for the
per-example last-layer gradients of a training run they come straight from the
gradient factors (:mod:`sksubset.gradients`)::

    g_i . g_j = (e_i . e_j) (hb_i . hb_j)

which costs ``O(C + H)`` per pair instead of ``O(C H)``.  Optimizers:

* ``"naive"``: every step evaluates the gain of every remaining candidate;
* ``"lazy"`` (default): lazy greedy (Minoux 1978).  Gains only shrink as ``S``
  grows, so a stale gain is an upper bound; each step refreshes the block of
  the candidate with the largest bound until that candidate's gain is fresh.
  Because a block's gains are computed exactly as the naive greedy computes
  them and ties go to the smallest index in both, it returns *the same*
  selection as ``"naive"``, usually for a small fraction of the evaluations;
* ``"stochastic"``: stochastic greedy (Mirzasoleiman et al., AAAI 2015): each
  step evaluates ``ceil((n / k) log(1 / epsilon))`` remaining candidates drawn
  at random, for ``O(n log(1/epsilon))`` evaluations in all and a
  ``1 - 1/e - epsilon`` approximation in expectation.

Many small problems (CREST's hundreds of per-subset, per-class coresets) are
better solved together: :func:`facility_location_batched` stacks groups of
equal size and takes one greedy step for all of them at a time, returning
exactly the selections and weights of :func:`facility_location_greedy` per
group, without its per-step Python overhead.

Variants of a training run
--------------------------
* ``per_class=True`` (default, as in CORDS): one problem per class, the budget
  split in proportion to class sizes (:func:`~sksubset.selectors._base.split_budget`),
  each example served by a medoid of its own class;
* ``SubsetTrainingClassifier(per_batch=True)`` (CRAIG-PB): the ground set is
  the mean gradients of a random partition into mini-batches, ``ceil(k / B)``
  batches are chosen (not per class) and each example of a chosen batch gets
  its batch's weight.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils.budget import (
    BUDGET_CONSTRAINTS,
    n_batches_for,
    resolve_budget,
    split_budget,
)
from .._utils.validation import DTYPES, check_labels, check_matrix
from ..gradients import LastLayer, batch_gradients, gradient_sum, random_batches
from ._base import BaseSelector, Selection, check_last_layer, expand_batches, group_rows

__all__ = ["CraigSelector", "facility_location_batched", "facility_location_greedy",
           "pairwise_distances"]

_METRICS = ("euclidean", "sqeuclidean", "cosine")
_OPTIMIZERS = ("lazy", "naive", "stochastic")
#: facility_location_batched: groups with more rows go through the lazy greedy (no m x m matrix)
_STACK_MAX_ROWS = 2048
#: facility_location_batched: largest ``groups x m x m`` distance tensor stacked at once
#: (float64: 128 MiB)
_STACK_MAX_ELEMENTS = 1 << 24


class _Ground:
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
    if chunk_size == "auto":
        return 1024 if torch.device(device).type == "cuda" else 64
    return max(1, int(chunk_size))


def facility_location_greedy(ground, k, *, optimizer="lazy", epsilon=0.1, chunk_size="auto",
                             rng=None):
    """Greedy facility location on a ``_Ground`` (see the module docstring).

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
        s = math.ceil(n / max(k, 1) * math.log(1.0 / epsilon))
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

    Solves, for every group ``g`` (row indices into ``F``), the problem that
    ``facility_location_greedy(_Ground([F[g]], metric), ks[g],
    chunk_size=chunk_size)`` solves, and returns exactly its ``chosen`` and
    ``weights``: the same ``min(ks[g], len(g))`` picks in the same greedy
    order, the same tie-breaking (smallest index among equal gains; a point
    equally close to two picks is served by the earlier one) and the same
    weights.  It exists for the many small problems of one CREST selection
    (one per random subset and class), which a Python loop over
    :func:`facility_location_greedy` would spend mostly in per-step overhead.

    Groups of equal size ``m`` are stacked, in batches of at most
    ``_STACK_MAX_ELEMENTS`` distances, into an ``(S, m, m)`` tensor whose
    columns come from the same ``_Ground`` calls (same column blocks of
    ``chunk_size``, same bound ``D``) as the per-group solver; each greedy
    step evaluates every candidate's gain ``sum_i max(0, cur_i - d_ij)`` (the
    naive greedy, whose selection the lazy greedy returns) for all groups at
    once.  No padding: every gain is the same sum of the same terms as per
    group.  Groups larger than ``_STACK_MAX_ROWS`` rows are handed to
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
            ground = _Ground([F[torch.as_tensor(g, device=F.device)]], metric)
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
        ground = _Ground([F[torch.as_tensor(g, device=dev)]], metric)
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
    ground = _Ground(list(factors), metric)
    return ground.dist(torch.arange(ground.n, device=ground.sq.device))


class CraigSelector(BaseSelector):
    """CRAIG: greedy facility-location medoids of the gradients, weighted by cluster size.

    Parameters
    ----------
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the rows, or number of rows, to select.
    per_class : bool, default=True
        One problem per class (when labels are available: ``y`` in ``fit``,
        always in a training run), the budget split in proportion to class
        sizes (every class gets at least one row when the budget is at least
        the number of classes).  Ignored in per-batch mode.
    metric : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance ``d`` of the similarity ``sim = D - d`` (module docstring).
    optimizer : {"lazy", "naive", "stochastic"}, default="lazy"
        Greedy algorithm; ``"lazy"`` and ``"naive"`` return the same selection.
    epsilon : float in (0, 1), default=0.1
        Stochastic greedy's accuracy: each step evaluates
        ``ceil((n / k) log(1 / epsilon))`` random candidates.
    chunk_size : int >= 1 or "auto", default="auto"
        Candidates whose distance columns are computed together (memory
        ``n_class x chunk_size``); also the unit of the lazy greedy's
        refreshes.  ``"auto"``: 64 on CPU (small blocks keep lazy refreshes
        cheap and cache-friendly), 1024 on a GPU (wide blocks are nearly free
        there).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to compute; ``"auto"`` is where the input lives (CPU for numpy).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the distance computations.
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic greedy of :meth:`fit` (the other optimizers are
        deterministic).  In a training run the run's own generator is used.

    Attributes
    ----------
    indices_ : ndarray of shape (n_selected,)
        Selected rows, in greedy order (grouped by class with ``per_class``).
    weights_ : ndarray of shape (n_selected,)
        Number of rows each selected row serves (>= 1; they sum to the number
        of rows of the classes that received part of the budget).
    assignments_ : ndarray of shape (n_samples,)
        Row of ``G`` (an element of ``indices_``) serving each row; -1 for rows
        of a class that received no budget.
    objective_ : float
        Facility-location value ``F(S)`` (summed over classes).
    n_evaluations_ : int
        Marginal gains computed by the greedy.
    classes_ : ndarray
        Classes of ``y`` (only with ``per_class`` and ``y``).
    n_features_in_ : int
    n_samples_fit_ : int

    Notes
    -----
    When all rows of a problem are identical (all gradients zero, say), any
    ``k`` of them represent it equally and the tie rule would give all but
    ``k - 1`` rows to the first pick: the rows are shared out evenly instead
    (weights differ by at most one), with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset.selectors.craig import CraigSelector
    >>> rng = np.random.default_rng(0)
    >>> centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    >>> G = np.repeat(centers, [50, 30, 20], axis=0) + rng.normal(scale=0.1, size=(100, 2))
    >>> sel = CraigSelector(budget=3).fit(G)
    >>> sorted(sel.weights_.tolist())
    [20.0, 30.0, 50.0]
    >>> sel.transform(G).shape
    (3, 2)
    """

    supports_per_batch = True

    _parameter_constraints = {
        "budget": BUDGET_CONSTRAINTS,
        "per_class": ["boolean"],
        "metric": [StrOptions(set(_METRICS))],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(DTYPES))],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, per_class=True, metric="euclidean", optimizer="lazy",
                 epsilon=0.1, chunk_size="auto", device="auto", dtype="float32",
                 random_state=None):
        self.budget = budget
        self.per_class = per_class
        self.metric = metric
        self.optimizer = optimizer
        self.epsilon = epsilon
        self.chunk_size = chunk_size
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _solve_groups(self, groups, ks, rng):
        """Solve one problem per ``(rows, factors)`` group; global results."""
        idx, w, assign_pairs = [], [], []
        objective, n_eval = 0.0, 0
        for (rows, factors), kg in zip(groups, ks):
            if kg == 0:
                continue
            ground = _Ground(factors, self.metric)
            c, wg, a, obj, ne, _ = facility_location_greedy(
                ground, kg, optimizer=self.optimizer, epsilon=self.epsilon,
                chunk_size=self.chunk_size, rng=rng)
            if len(c) > 1 and ground.identical():
                # every row is every medoid's: ties would give all but k-1 rows to the first
                warnings.warn(f"CRAIG: all {len(rows)} rows of a problem are identical (all "
                              f"gradients zero?), so any {len(c)} of them represent it "
                              f"equally; the rows are shared out evenly among them.",
                              UserWarning, stacklevel=3)
                share = np.arange(len(rows)) % len(c)
                wg = np.bincount(share, minlength=len(c)).astype(np.float64)
                a = c[share]
            idx.append(rows[c])
            w.append(wg)
            assign_pairs.append((rows, rows[a]))
            objective += obj
            n_eval += ne
        return (np.concatenate(idx).astype(np.int64), np.concatenate(w), assign_pairs,
                objective, n_eval)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, G, y=None):
        """Select weighted medoids among the rows of ``G``.

        Parameters
        ----------
        G : array-like, torch.Tensor or LastLayer of shape (n_samples, n_features)
            One gradient (or any feature vector) per candidate; or a net's
            last-layer gradients as factors
            (:func:`sksubset.gradients.last_layer_gradients`), whose distances
            come from the factors (``g_i . g_j = (e_i . e_j)(hb_i . hb_j)``)
            without forming the gradients: the selection of ``G.dense()`` up
            to float ties.
        y : array-like of shape (n_samples,), default=None
            Class labels.  With ``per_class`` (the default) and ``y``, one
            problem per class; without ``y``, one problem over all rows.  A
            ``LastLayer`` carries its labels (``y`` must be those, or None).

        Returns
        -------
        self
        """
        device = self._device(G)
        if isinstance(G, LastLayer):
            ll, y = check_last_layer(G, y, device, DTYPES[self.dtype])
            (n, d), factors = ll.shape, [ll.E, ll.Hb]
        else:
            factors = [check_matrix(G, device, DTYPES[self.dtype])]
            n, d = factors[0].shape
            y = check_labels(y, n, required=False)
        k = resolve_budget(self.budget, n)
        if self.per_class and y is not None:
            classes, rows = group_rows(y)
            self.classes_ = classes
        else:
            rows = [np.arange(n)]
        groups = [(r, [F[torch.as_tensor(r, device=device)] for F in factors]) for r in rows]
        ks = split_budget(k, [len(r) for r in rows]).tolist()
        idx, w, pairs, obj, n_eval = self._solve_groups(
            groups, ks, check_random_state(self.random_state))
        assignments = np.full(n, -1, dtype=np.int64)
        for r, a in pairs:
            assignments[r] = a
        self.indices_ = idx
        self.weights_ = w
        self.assignments_ = assignments
        self.objective_ = obj
        self.n_evaluations_ = n_eval
        self.n_features_in_ = d
        self.n_samples_fit_ = n
        return self

    def select(self, context):
        """One CRAIG round of a training run (CRAIG-PB with ``context.per_batch``).

        The ground set is the per-example last-layer gradients of the pool,
        per class with ``per_class``; in per-batch mode the mean gradients of
        a random partition into mini-batches of ``context.batch_size``.
        ``info`` records the facility-location ``objective``, the number of
        gain evaluations and the relative error of the weighted gradient sum
        against the full training gradient (``gradient_error``).
        """
        ll = context.train()
        dev = self._device(ll.E)
        dtype = DTYPES[self.dtype]
        E, Hb = ll.E.to(device=dev, dtype=dtype), ll.Hb.to(device=dev, dtype=dtype)
        n, k = len(ll), min(context.budget, len(ll))
        full = gradient_sum(E.double(), Hb.double())
        if context.per_batch:
            batches = random_batches(n, context.batch_size, context.rng)
            Gb = batch_gradients(E, Hb, batches)
            kb = min(n_batches_for(k, context.batch_size), len(batches))
            c, wb, _, obj, n_eval, _ = facility_location_greedy(
                _Ground([Gb], self.metric), kb, optimizer=self.optimizer,
                epsilon=self.epsilon, chunk_size=self.chunk_size, rng=context.rng)
            sizes = torch.as_tensor([len(batches[j]) for j in c], device=dev,
                                    dtype=torch.float64)
            wt = torch.as_tensor(wb, device=dev, dtype=torch.float64)
            approx = (wt * sizes) @ Gb[torch.as_tensor(c, device=dev)].double()
            indices, weights = expand_batches(batches, c, wb)
            info = {"objective": obj, "n_evaluations": n_eval, "n_batches": len(c)}
        else:
            if self.per_class:
                rows = [np.flatnonzero(context.y == cl) for cl in range(context.n_classes)]
                rows = [r for r in rows if len(r)]
            else:
                rows = [np.arange(n)]
            groups = []
            for r in rows:
                rt = torch.as_tensor(r, device=dev)
                groups.append((r, [E[rt], Hb[rt]]))
            ks = split_budget(k, [len(r) for r in rows]).tolist()
            indices, weights, _, obj, n_eval = self._solve_groups(groups, ks, context.rng)
            it = torch.as_tensor(indices, device=dev)
            wt = torch.as_tensor(weights, device=dev, dtype=torch.float64)
            approx = gradient_sum(E[it].double() * wt[:, None], Hb[it].double())
            info = {"objective": obj, "n_evaluations": n_eval}
        info["gradient_error"] = float((approx - full).norm() / full.norm().clamp_min(1e-300))
        return Selection(indices, weights, info)
