"""CRAIG (Mirzasoleiman, Bilmes & Leskovec, ICML 2020): weighted medoids of the gradients.

CRAIG picks ``k`` examples whose gradients are close to everybody else's and
weights each by the number of examples it stands for: it maximizes the
*facility-location* function::

    F(S) = sum_i max_{j in S} sim(i, j),     sim(i, j) = D - d(g_i, g_j)

over ``|S| <= k`` greedily, then gives each chosen ``j`` the weight
``gamma_j = |{i : j is i's closest chosen point}|`` (ties go to the earlier
pick): integers >= 1 summing to the number of examples served.  The distances,
the constant ``D`` and the greedy maximizers (``"lazy"``, ``"naive"``,
``"stochastic"``) live in :mod:`sksubset._submodular`, shared with CREST.

Variants of a training run
--------------------------
* ``per_class=True`` (default, as in CORDS): one problem per class, the budget
  split in proportion to class sizes, each example served by a medoid of its
  own class;
* ``SubsetTrainingClassifier(per_batch=True)`` (CRAIG-PB): the ground set is
  the mean gradients of a random partition into mini-batches, ``ceil(k / B)``
  batches are chosen (not per class) and each example of a chosen batch gets
  its batch's weight.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._submodular import METRICS, Ground, facility_location_greedy
from .._utils.budget import (
    BUDGET_CONSTRAINTS,
    n_batches_for,
    resolve_budget,
    split_budget,
)
from .._utils.validation import DTYPES, check_labels, check_matrix
from ..gradients import LastLayer, batch_gradients, gradient_sum, random_batches
from ._base import BaseSelector, Selection
from ._checks import check_last_layer
from ._rows import expand_batches, group_rows

__all__ = ["CraigSelector"]

_OPTIMIZERS = ("lazy", "naive", "stochastic")


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
        Distance ``d`` of the similarity ``sim = D - d`` (:mod:`sksubset._submodular`).
    optimizer : {"lazy", "naive", "stochastic"}, default="lazy"
        Greedy algorithm; ``"lazy"`` and ``"naive"`` return the same selection.
    epsilon : float in (0, 1), default=0.01
        Stochastic greedy's accuracy: each step evaluates
        ``ceil((n / k) log(1 / epsilon))`` random candidates (CORDS: 0.01).
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
        of rows of the classes that received part of the budget), the meaning
        of :class:`~sksubset.selectors.BaseSelector`.
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
        "metric": [StrOptions(set(METRICS))],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(DTYPES))],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, per_class=True, metric="euclidean", optimizer="lazy",
                 epsilon=0.01, chunk_size="auto", device="auto", dtype="float32",
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
            ground = Ground(factors, self.metric)
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
        classes, rows = group_rows(y if self.per_class else None, n)
        if classes is not None:
            self.classes_ = classes
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
                Ground([Gb], self.metric), kb, optimizer=self.optimizer,
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
