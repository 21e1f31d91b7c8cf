"""GRAD-MATCH (Killamsetty et al., ICML 2021): a weighted subset whose gradient matches.

Choose rows ``S`` of a gradient matrix ``G`` and weights ``w >= 0`` so that
the weighted sum of their gradients matches a target gradient ``b`` (the sum
of all rows by default: the full training gradient)::

    min  || sum_{i in S} w_i g_i - b ||^2 + lam * s2 * ||w||^2,   |S| <= k

(``s2 = mean_i ||g_i||^2`` over every candidate row, so that ``lam`` is
relative: the selection is the same at any scale of the gradients)

solved by regularized non-negative orthogonal matching pursuit
(:mod:`sksubset.omp`).  The paper's approximations:

* ``per_class=True`` (the default): one problem per class, each matching its own class's
  gradient sum, with the budget split in proportion to class sizes;
* ``per_gradient=True`` (with ``per_class``): each class's problem only looks
  at the gradient of that class's own output unit (see the layout below);
* per-batch (``SubsetTrainingClassifier(per_batch=True)``): the ground set is
  the mean gradients of a random partition into mini-batches, and a chosen
  batch brings all its examples with the batch's weight.

The per-class problems are solved together in one batched greedy loop.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils.budget import BUDGET_CONSTRAINTS, n_batches_for, resolve_budget, split_budget
from .._utils.sampling import cyclic_draw
from .._utils.validation import DTYPES, check_labels, check_matrix, check_target
from ..gradients import LastLayer, batch_gradients, random_batches
from ._base import BaseSelector, Selection
from ._checks import check_holdout, check_last_layer
from ._gradmatch_solve import (
    fit_dense,
    fit_factored,
    group_targets,
    relative_error,
    solve_dense,
    solver_flops,
    split_problems,
)
from ._rows import expand_batches, group_rows

__all__ = ["GradMatchSelector", "gradmatch", "MIN_POOL"]

#: the fewest candidates a pool gives a class (all of them when it has fewer): a class budget of
#: a few rows chosen among three times as many random rows lost to RANDOM on small data (digits
#: at a large constant learning rate), where examining the whole class costs little
MIN_POOL = 256


def gradmatch(G, budget=0.1, y=None, *, target=None, lam=0.05, tol=1e-10, positive=True,
              per_class=True, per_gradient=False, criterion="correlation", per_step="auto",
              device="auto", dtype="float32"):
    """Functional form of :class:`GradMatchSelector`.

    Returns
    -------
    indices : ndarray of shape (n_selected,)
    weights : ndarray of shape (n_selected,)

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset import gradmatch
    >>> G = np.random.default_rng(0).normal(size=(200, 16))
    >>> indices, weights = gradmatch(G, budget=20)
    >>> len(indices), bool((weights >= 0).all())
    (20, True)
    """
    sel = GradMatchSelector(budget=budget, lam=lam, tol=tol, positive=positive,
                            per_class=per_class, per_gradient=per_gradient, criterion=criterion,
                            per_step=per_step, device=device, dtype=dtype).fit(G, y, target=target)
    return sel.indices_, sel.weights_


class GradMatchSelector(BaseSelector):
    """GRAD-MATCH subset selection on a gradient matrix.

    Selects at most ``budget`` rows of ``G`` and non-negative weights whose
    weighted sum matches a target gradient, by regularized non-negative
    orthogonal matching pursuit (:mod:`sksubset.omp`).

    With no arguments it is the selector
    :class:`~sksubset.SubsetTrainingClassifier` uses by default: a round of a
    training run examines a pool of three times each class's budget
    (``pool_factor=3``) cycling through the data, and the solver adds atoms by
    the correlation rule, many a step (``per_step="auto"``).  The exact greedy
    search, every example a candidate, is a parameter set away:
    ``GradMatchSelector(pool_factor=None, criterion="gain", per_step=1)``
    (tens of times slower on large budgets; lowest gradient errors,
    ``docs/benchmarks.md``, section 1).

    Parameters
    ----------
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the rows, or number of rows, to select.
    lam : float >= 0, default=0.05
        Ridge relative to the mean squared norm of the candidate gradients:
        the penalty is ``lam * mean_i ||g_i||^2 * ||w||^2`` (the mean over
        every candidate row of the call, all classes together, so that the
        per-class problems share one ridge; for last-layer factors
        ``||g_i||^2 = ||e_i||^2 ||h_i||^2``, computed without forming the
        rows); the selection is the same at any scale of the gradients.  On a
        classifier's own last-layer gradients the mean squared norm measured
        7 to 10 a round, so the default is about the absolute ``lam=0.5`` of
        earlier releases.
    tol : float >= 0, default=1e-10
        Stop early once the regularized error is at most ``tol`` times
        ``||target||^2``; ``tol=0`` never stops early.  Short of the
        tolerance, the budget is filled (a warning says otherwise: only
        possible with ``lam=0``, when the nonzero gradients, or their span,
        are fewer than a problem's budget).
    positive : bool, default=True
        Constrain the weights to be non-negative.
    per_class : bool, default=True
        One problem per class of ``y``, each matching its class's gradient, with
        the budget split in proportion to class sizes (largest remainder; every
        class gets at least one row when the budget is at least the number of
        classes).  Without labels (``fit`` on a matrix with ``y=None``): one
        problem over all rows.
    per_gradient : bool, default=False
        With ``per_class``: each class's problem only uses that class's block
        of columns.  ``G``'s columns must then come in ``n_classes`` equal
        blocks, block ``c`` holding the gradient of the parameters of output
        unit ``c`` (classes in sorted order), as
        :func:`sksubset.gradients.sample_gradients` lays them out.
    pool_factor : float >= 1 or None, default=3
        In a training run: examine only a pool of ``pool_factor`` times the
        budget each round (at most the whole training data), as CREST draws
        random subsets; the forward pass and the solver then cost the pool's
        size, and the pool's gradient, scaled to the whole, stands in for the
        training gradient.  With ``per_class`` (per example) each class's pool
        is ``pool_factor`` times its budget, drawn from its own rows, so that
        every class keeps its share and its slots; and at least
        ``MIN_POOL`` (256) rows, or the whole class when it has fewer, so
        that small data sets examine every example.  ``None``: every training
        example is a candidate.
        Rows of the pool trained since the last round cost no forward pass
        (``context.free``, see :class:`~sksubset.SubsetTrainingClassifier`);
        the pool is drawn regardless of them (measured: pools that took them
        first lost accuracy, ``docs/benchmarks.md`` section 4.5).  Unused by
        :meth:`fit`, which selects from the rows it gets.
    max_support : int >= 1 or None, default=256
        In a training run: the most rows one problem selects.  A class whose
        budget ``k`` is larger is solved as ``ceil(k / max_support)`` problems
        over interleaved parts of its pool (every ``p``-th row), each matching
        its own part's gradient, so that their sum matches the class's: a
        problem's support costs the cube of its budget to factor, and parts
        keep a round's solver close to its floor (one pass of correlations
        over the pool a greedy step) on large budgets.  ``None``: one problem
        a class.  Unused by :meth:`fit`.
    sampling : {"independent", "cycle"}, default="cycle"
        How the drawn rows of successive pools are drawn: independently each
        round, or without replacement across rounds, so that they cycle
        through the training data (every example is examined once before any
        is examined twice), as in :class:`~sksubset.RandomSelector`.
    criterion : {"correlation", "gain"}, default="correlation"
        How the solver picks the next row: the largest inner product with the
        residual (the paper's Algorithm 2, as in CORDS; with ``lam > 0`` on a
        growing Cholesky factor, the cheapest step), or the largest decrease
        of the regularized error (orthogonal least squares; lowest errors on
        every last-layer gradient matrix we measured, at a dearer step).  See
        :mod:`sksubset.omp` and ``docs/benchmarks.md``.
    per_step : int >= 1 or "auto", default="auto"
        Rows the solver adds per greedy step (generalized OMP); 1 is the exact
        greedy search.  ``criterion="correlation", per_step=16`` trades a
        slightly larger gradient error for a much faster solve
        (``docs/benchmarks.md``, section 1).  ``"auto"``: each problem (class)
        its own, from its budget ``k``: ``max(k // 16, 1)``, so that a class's
        rows are chosen over 16 to 31 greedy steps whatever their number (one
        a step below 32 rows; 37 a step for 600).
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to solve; ``"auto"`` is where ``G`` lives (CPU for numpy).
    dtype : {"float32", "float64"}, default="float32"
        Precision in which ``G`` is read by the solver (its basis and the
        final weights are always float64).
    random_state : int, RandomState instance or None, default=None
        GRAD-MATCH's greedy solver is deterministic; in a training run the
        per-batch partition is drawn from the run's own generator.  Accepted
        for a uniform interface with the other selectors.

    Attributes
    ----------
    indices_ : ndarray of shape (n_selected,)
        Selected rows, in greedy order (grouped by class with ``per_class``).
    weights_ : ndarray of shape (n_selected,)
        Their non-negative weights, fitted on the scale of the target: with
        the default target they sum to roughly ``n_samples`` (the meaning of
        :class:`~sksubset.selectors.BaseSelector`).
    gradient_error_ : float
        ``||sum_i w_i g_i - target|| / ||target||`` over all columns.
    n_rounds_ : int
        Non-negative refits of the solver (1 when no atom was replaced).
    solver_fallback_ : bool
        True when the solver's Cholesky search (``criterion="correlation"``)
        broke down and the problems were solved with its orthonormal basis
        instead (a ``UserWarning`` says so; the same problem, a dearer step).
        In a training run the round's ``info`` holds it as
        ``"solver_fallback"``.
    classes_ : ndarray
        Classes of ``y`` (only with ``per_class``).
    n_features_in_ : int
    n_samples_fit_ : int

    Notes
    -----
    ``transform`` returns fewer rows than it gets, so this is not a
    scikit-learn transformer and not meant for a ``Pipeline`` step.

    A matrix whose magnitude would overflow or underflow float32 products
    (``max |G|`` outside ``[2^-16, 2^16]``) is solved rescaled by a power of
    two: the same problem, since ``lam`` is relative.  A zero target
    (all gradients zero), which zero weights match exactly, gives ``k``
    evenly spaced rows with equal weights instead, and a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset import GradMatchSelector
    >>> rng = np.random.default_rng(0)
    >>> G = rng.normal(size=(500, 32)) + 1.0
    >>> sel = GradMatchSelector(budget=0.05).fit(G)
    >>> sel.indices_.shape, sel.gradient_error_ < 0.5
    ((25,), True)
    >>> sel.transform(G).shape
    (25, 32)
    """

    supports_per_batch = True

    _parameter_constraints = {
        "budget": BUDGET_CONSTRAINTS,
        "lam": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "positive": ["boolean"],
        "per_class": ["boolean"],
        "per_gradient": ["boolean"],
        "pool_factor": [None, Interval(Real, 1, None, closed="left")],
        "max_support": [None, Interval(Integral, 1, None, closed="left")],
        "sampling": [StrOptions({"independent", "cycle"})],
        "criterion": [StrOptions({"gain", "correlation"})],
        "per_step": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(DTYPES))],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, lam=0.05, tol=1e-10, positive=True, per_class=True,
                 per_gradient=False, pool_factor=3, max_support=256, sampling="cycle",
                 criterion="correlation", per_step="auto", device="auto", dtype="float32",
                 random_state=None):
        self.budget = budget
        self.lam = lam
        self.tol = tol
        self.positive = positive
        self.per_class = per_class
        self.per_gradient = per_gradient
        self.pool_factor = pool_factor
        self.max_support = max_support
        self.sampling = sampling
        self.criterion = criterion
        self.per_step = per_step
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    @property
    def _opts(self):
        return dict(lam=self.lam, tol=self.tol, positive=self.positive, criterion=self.criterion,
                    per_step=self.per_step)

    def _check_options(self):
        if self.per_gradient and not self.per_class:
            raise ValueError("per_gradient=True requires per_class=True (the per-gradient "
                             "approximation restricts each class's problem to its own block).")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, G, y=None, *, target=None):
        """Select rows of ``G``.

        Parameters
        ----------
        G : array-like, torch.Tensor or LastLayer of shape (n_samples, n_features)
            One gradient (or any vector) per candidate; or a net's last-layer
            gradients as factors
            (:func:`sksubset.gradients.last_layer_gradients`), which the
            solver uses directly (:class:`~sksubset.omp.OuterProductAtoms`),
            never forming the gradient matrix.  The selection is the one the
            dense matrix ``G.dense()`` gives, up to float ties.
        y : array-like of shape (n_samples,), default=None
            Class labels; required with ``per_class`` for a matrix.  For a
            ``LastLayer`` the labels it was computed with (``None``: those).
        target : array-like, torch.Tensor or LastLayer, default=None
            Gradient to match; ``None`` for the sum of ``G``'s rows.  Shape
            ``(n_features,)``, or ``(n_classes, n_features)`` with
            ``per_class`` (one target per class, classes in sorted order), for
            example validation gradients.  When ``G`` is a ``LastLayer``,
            ``target`` may be one too, of held-out data: each class then
            matches the held-out gradient sum of its class rescaled to its
            number of rows in ``G`` (the whole held-out sum rescaled to
            ``n_samples`` without ``per_class``), as
            ``SubsetTrainingClassifier(valid_size=...)`` does.

        Returns
        -------
        self
        """
        self._check_options()
        device = self._device(G)
        if isinstance(G, LastLayer):
            ll, y = check_last_layer(G, y, device, DTYPES[self.dtype])
            n, d = ll.shape
            idx, w, err, stats = self._fit_last_layer(ll, y, target, device)
        else:
            if isinstance(target, LastLayer):
                check_holdout(target, None, device, torch.float64)
            Gt = check_matrix(G, device, DTYPES[self.dtype])
            n, d = Gt.shape
            k = resolve_budget(self.budget, n)
            y = check_labels(y, n, required=False)
            if self.per_gradient and y is None:
                raise ValueError("per_gradient=True requires y (the class of each row of G).")
            y = y if self.per_class else None
            if target is not None:
                shape = (d,) if y is None else (len(np.unique(y)), d)
                target = check_target(target, shape, device, torch.float64)
                if y is None:
                    target = target[0]
            idx, w, err, stats = fit_dense(Gt, k, y, target, self._opts, self.per_gradient)
        self.indices_ = idx.astype(np.int64)
        self.weights_ = w
        self.gradient_error_ = err
        self.n_rounds_ = stats["omp_rounds"]
        self.solver_fallback_ = stats["solver_fallback"]
        if self.per_class and y is not None:
            self.classes_ = np.unique(y)
        self.n_features_in_ = d
        self.n_samples_fit_ = n
        return self

    def _fit_last_layer(self, ll, y, target, device):
        """:meth:`fit` on last-layer gradients given by their factors."""
        n, d = ll.shape
        groups = group_rows(y if self.per_class else None, n)[1]
        if isinstance(target, LastLayer):
            valid = check_holdout(target, ll, device, torch.float64)
            full_targets = group_targets(ll, groups, valid, 1.0, self.per_class)
        elif target is None:
            full_targets = group_targets(ll, groups, None, 1.0, self.per_class)
        else:
            shape = (len(groups), d) if self.per_class else (d,)
            full_targets = list(check_target(target, shape, device, torch.float64))
        ks = split_budget(resolve_budget(self.budget, n), [len(g) for g in groups]).tolist()
        return fit_factored(ll, groups, full_targets, ks, self._opts, self.per_gradient)

    def _pools(self, sizes, ks):
        """Candidates of each group in a round: ``pool_factor`` times its budget, at least the
        budget and ``MIN_POOL`` rows, at most the group."""
        if self.pool_factor is None:
            return list(sizes)
        return [min(n, max(kg, int(round(self.pool_factor * kg)), MIN_POOL))
                for n, kg in zip(sizes, ks)]

    def round_flops(self, shape):
        """Predicted flops of one round: the forward passes over its candidates that training
        did not compute (and the held-out rows) and the solver (:func:`solver_flops
        <sksubset.selectors._gradmatch_solve.solver_flops>`)."""
        sizes = list(shape.class_sizes) if self.per_class and not shape.per_batch else [
            sum(shape.class_sizes)]
        ks = split_budget(shape.budget, sizes).tolist()
        pools = self._pools(sizes, ks)
        rows = sum(pools)
        parts, part_ks, _ = split_problems(pools, ks, self.max_support)
        flops = (rows * (1.0 - shape.free_share) + shape.n_valid) * shape.forward_flops
        width = (shape.n_outputs, shape.n_inputs)
        if shape.per_batch:
            b = max(1, shape.batch_size)
            return flops + solver_flops([-(-rows // b)], [n_batches_for(shape.budget, b)],
                                        width, self.per_step)
        return flops + solver_flops(parts, part_ks, width, self.per_step)

    def select(self, context):
        """One GRAD-MATCH round of a training run (see :class:`.SelectionContext`).

        Matches the training gradient of the ground set, or, when the run holds
        out validation data, the validation gradient rescaled to the size of
        the ground set (per class, with ``per_class``).  Per-example gradients
        are never formed: the solver works on their factors
        (:class:`~sksubset.omp.OuterProductAtoms`).  With ``pool_factor``
        only a pool of the ground set is examined, drawn as ``sampling``
        says (its rows trained since the last round cost no forward pass);
        the pool's gradient, scaled to the ground set, stands in for the
        training gradient.
        """
        self._check_options()
        n_all, k = context.n_samples, context.budget
        by_class = self.per_class and not context.per_batch
        groups = ([np.flatnonzero(context.y == c) for c in range(context.n_classes)]
                  if by_class else [np.arange(n_all)])
        ks = split_budget(k, [len(g) for g in groups]).tolist()
        pool, counts = self._pool(context, groups, ks)
        ll = context.train(pool)
        y = context.y if pool is None else context.y[pool]
        valid = context.valid()
        info = {} if pool is None else {"pool_size": len(ll)}
        if context.per_batch:
            scale = n_all / len(ll)  # pool sums -> ground-set estimates
            batches = random_batches(len(ll), context.batch_size, context.rng)
            Gb = batch_gradients(ll.E, ll.Hb, batches)
            b = (Gb.sum(0) * scale if valid is None
                 else valid.gradient_sum * (len(batches) * scale / len(valid)))
            idx, w, stats = solve_dense([Gb], [b], [n_batches_for(k, context.batch_size)],
                                        self._opts)
            err = relative_error(Gb[idx[0]], w[0], b)
            local, weights = expand_batches(batches, idx[0], w[0])
            info.update(gradient_error=err, n_batches=len(idx[0]), **stats)
        else:
            keep = [i for i, m in enumerate(counts) if m]
            if pool is None:
                rows = [groups[i] for i in keep]
            elif by_class:  # each class's rows of the pool
                rows = [np.flatnonzero(y == i) for i in keep]
            else:
                rows = [np.arange(len(y))]
            scales = [len(groups[i]) / counts[i] for i in keep]  # pool sums -> class sums
            local, weights, info_solve = self._select_examples(ll, rows, valid,
                                                               [ks[i] for i in keep], scales)
            info.update(info_solve)
        indices = local if pool is None else pool[local]
        return Selection(indices.astype(np.int64), weights, info)

    def _pool(self, context, groups, ks):
        """The candidate rows of a round (``None``: every row) and their number in each group:
        ``pool_factor`` times each group's budget (a class's with ``per_class``, so that every
        class keeps its share and its slots), drawn as ``sampling`` says (``"cycle"``: a
        stream of permutations of each group, :mod:`sksubset._utils.sampling`).  The rows among
        them trained since the last round (``context.free``) cost no forward pass."""
        sizes = [len(g) for g in groups]
        counts = self._pools(sizes, ks)
        if counts == sizes:
            return None, sizes
        parts = []
        for key, (g, m) in enumerate(zip(groups, counts)):
            if m:
                drawn = (cyclic_draw(self, context, len(g), m, key=key)
                         if self.sampling == "cycle"
                         else np.sort(context.rng.choice(len(g), m, replace=False)))
                parts.append(g[drawn])
        return np.sort(np.concatenate(parts)), counts

    def _select_examples(self, ll, groups, valid, ks, scales):
        """Per-example GRAD-MATCH on the factors of ``ll``: one problem per group of its rows
        (a class's with ``per_class``, in parts of at most ``max_support`` rows selected), of
        budget ``ks[i]``, matching the group's gradient sum times ``scales[i]``."""
        groups, ks, origin = split_problems(groups, ks, self.max_support)
        scales = [scales[i] for i in origin]
        full_targets = group_targets(ll, groups, valid, scales, self.per_class)
        local, weights, err, stats = fit_factored(ll, groups, full_targets, ks, self._opts,
                                                   self.per_gradient)
        return local, weights, {"gradient_error": err, **stats}
