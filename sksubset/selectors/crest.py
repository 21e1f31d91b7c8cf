"""CREST (Yang, Kang & Mirzasoleiman, ICML 2023): mini-batch coresets, reselected adaptively.

"Towards Sustainable Learning: Coresets for Data-efficient Deep Learning"
builds its subsets in three steps, all reproduced here within the selector
contract of :mod:`sksubset.selectors._base`:

1. **Mini-batch coresets from random subsets.**  Draw small random subsets
   of the ground set (stratified by class, about 1% of the data each) and from
   each extract a coreset of one mini-batch by *facility location* on cheap
   last-layer gradient features, the rows of ``softmax(z) - onehot(y)``
   (``C`` numbers per example; a regressor's ``e = dl/dyhat``, one number per
   output), maximized greedily, per class.  Each medoid is
   weighted by the number of random-subset points it serves.  The union of the coresets (about
   ``budget`` examples, as many coresets as it takes) is the selection.
2. **Quadratic model and adaptive trigger.**  At selection time a quadratic
   model of the mean loss on a *check sample* of the random-subset rows (the
   first random subsets, ``check_fraction`` of the data) is fitted around the
   current parameters ``theta0``: value, gradient and a second-order term.
   Training keeps using the same coresets while the model stays accurate; at
   the start of each later epoch :meth:`~sksubset.CrestSelector.check` recomputes the
   loss on the check sample (one forward pass over those rows only) and
   compares it with the model's prediction at ``theta - theta0``.  A relative
   error above ``threshold`` triggers a new selection, and the reason string
   says so.
3. **Excluding learned examples.**  Examples whose loss stayed below
   ``loss_threshold`` for ``drop_after`` consecutive observations are left out
   of future random subsets.

What differs from the authors' code (``bigml-cs-ucla/crest``), and why:

* The quadratic model is of the loss as a function of the **last layer**
  only, fitted on the first random subsets (the check sample); see
  :mod:`sksubset.selectors._crest_model` for its terms and why.
* The paper measures the parameter change by accumulating ``-lr * g`` over
  steps and checks every few *steps*; here the change is read off the net
  (``context.last_layer_params()``) and checks happen at epoch boundaries, the
  finest granularity at which :class:`~sksubset.SubsetTrainingClassifier`
  consults an adaptive selector (``check_every`` epochs apart).  The
  curvature-driven adaptation of the checking interval and of the number of
  coresets is not reproduced: the number of coresets fills the budget.
* Learned examples are tracked at every check and selection (consecutive
  observations below the threshold; the rows evaluated: all random-subset
  rows at a selection, the check sample at a check) instead of a 5-epoch
  window looked at every 20 epochs, and once dropped they stay out of the
  random subsets.  A class never loses so many that fewer than its share of
  the budget remain, so at least ``budget`` examples always stay eligible.
* Random subsets of one selection are disjoint (consecutive runs of one
  stratified random order of the eligible examples), so the coresets never
  overlap and their union always holds exactly ``budget`` examples; a subset
  shrinks below ``subset_fraction`` of the data only when the eligible pool
  cannot hold them all (never below its coreset's size).
* Facility location is CRAIG's greedy (:mod:`sksubset._submodular`:
  similarities ``D - d_ij`` with Euclidean distances ``d``, ties to the
  smallest index); the authors' code uses submodlib's.  The hundreds of small
  (random subset, class) problems of one selection are solved together
  (:func:`~sksubset._submodular.facility_location_batched`), with exactly the
  medoids and weights of one lazy-greedy call per group.
* The weights are rescaled from random-subset rows served to the ``n``
  candidate rows (``weights_`` of :class:`~sksubset.selectors.BaseSelector`).
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils.budget import BUDGET_CONSTRAINTS, resolve_budget
from .._utils.validation import check_matrix
from ..exceptions import DivergenceError
from ..gradients import LastLayer
from ._base import BaseSelector, Selection
from ._checks import check_last_layer
from ._crest_coresets import check_rows, draw_random_subsets, plan, subset_coresets
from ._crest_model import QuadraticModel, RunState, features

__all__ = ["CrestSelector"]

#: coreset size used by the standalone ``fit`` when ``batch_size=None`` (skorch's default)
_DEFAULT_BATCH = 128


class CrestSelector(BaseSelector):
    """CREST: mini-batch coresets from random subsets, reselected when a quadratic model fails.

    Inside :class:`~sksubset.SubsetTrainingClassifier` (``selector="crest"``)
    the selector is *adaptive*: after the first selection the classifier asks
    :meth:`check` at the start of every subset epoch, and reselects when it
    returns a reason (recorded in ``selection_history_``).  Standalone,
    :meth:`fit` extracts mini-batch coresets by facility location on the rows
    of a feature matrix (no adaptive part).  See the module docstring for the
    algorithm and how it departs from the authors' code.

    Parameters
    ----------
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the rows, or number of rows, to select (standalone ``fit``;
        in a training run the classifier's budget applies).
    subset_fraction : float in (0, 1], default=0.01
        Size of each random subset as a fraction of the ground set (the
        authors' ``--random_subset_size 0.01``).  A random subset is never
        smaller than its coreset (then the coreset is the whole subset, with
        unit weights), so on small data sets raise it; it is capped at an even
        share of the eligible examples, so that the subsets of one selection
        are disjoint.
    n_subsets : int >= 1 or None, default=None
        Number of random subsets, hence of coresets, per selection.  ``None``:
        ``ceil(budget / batch_size)``, just enough mini-batch coresets to fill
        the budget (the code uses ``--num_minibatch_coreset 5``, adapted to the
        curvature, at most one epoch's worth).  The budget is split evenly over
        the coresets.
    batch_size : int >= 1 or None, default=None
        Size of a mini-batch coreset.  ``None``: the net's batch size in a
        training run, 128 (skorch's default) in :meth:`fit`.
    threshold : float > 0, default=0.1
        Reselect when ``|loss - predicted| / |loss|`` on the check sample
        exceeds this (the authors' ``--check_thresh_factor 0.1``).
    curvature : {"diagonal", "full"}, default="diagonal"
        Second-order term of the quadratic model: the diagonal of the
        last-layer Hessian (the paper models the loss with a Hessian
        diagonal), or the whole last-layer block (exact second-order Taylor
        model in the last layer).  Both are computed in closed form from the
        softmax probabilities (a regressor's: its loss's second derivative in
        the outputs, ``2 / d`` for the squared loss) and ``[1, h]``.
    drop_learned : bool, default=True
        Exclude learned examples from future random subsets.  The paper's
        CREST includes this step (its abstract: CREST "identifies and excludes
        the examples that are learned"); the authors' command-line default is
        ``--drop_learned False``.
    loss_threshold : float >= 0, default=0.1
        An example counts as learned while its loss is below this (the
        authors' ``--drop_thresh 0.1``).
    drop_after : int >= 1, default=5
        Consecutive observations (checks or selections, at most one per epoch)
        below ``loss_threshold`` after which an example is dropped (the
        authors watch ``--watch_interval 5`` epochs).
    check_every : int >= 1, default=1
        Epochs between checks of the quadratic model (1: every epoch, the
        finest the classifier allows; the code checks every few steps).
    check_fraction : float in (0, 1], default=0.05
        Size of the check sample, as a fraction of the ground set: the
        quadratic model is fitted on, and every check evaluates the loss of,
        the first random subsets of a selection, as many as it takes to hold
        ``check_fraction * n_samples`` rows (at least one subset, at most all
        of them; 1 evaluates all random subsets).  The coresets still come from
        all random subsets.  A few percent of the data keeps a check at a few
        percent of a forward pass.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where facility location runs; ``"auto"``: where the last-layer
        quantities (or ``G``) live.
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets of :meth:`fit`.  In a training run they come
        from the run's own generator (``context.rng``).

    Attributes
    ----------
    indices_ : ndarray of shape (n_selected,)
        Selected rows (``fit``), coreset after coreset.
    weights_ : ndarray of shape (n_selected,)
        Number of rows each selected row stands for (the meaning of
        :class:`~sksubset.selectors.BaseSelector`): the random-subset rows it
        serves, rescaled so that the weights sum to ``n_samples``.
    random_subsets_ : list of ndarray
        The random subsets the coresets were extracted from.
    coreset_sizes_ : list of int
        Number of selected rows per coreset (aligned with ``random_subsets_``).
    classes_ : ndarray
        Classes of ``y`` (only when ``y`` is given).
    n_features_in_ : int
    n_samples_fit_ : int

    Notes
    -----
    In a training run each :class:`~sksubset.selectors.Selection` carries in
    its ``info`` (copied into ``selection_history_``): ``n_random_subsets``,
    ``random_subset_size`` (the largest), ``n_random_rows`` (their total),
    ``n_check_rows`` (rows of the check sample),
    ``n_active`` (eligible examples), ``n_dropped`` (learned examples excluded
    so far), ``n_newly_dropped``, ``model_loss`` (mean loss on the check
    sample, the model's value), ``gradient_norm`` (of the model),
    ``gradient_error`` (relative error of the weighted coresets' last-layer
    gradient against the random subsets') and ``checks``: the checks made on
    the previous selection's model, one dict (``epoch``, ``loss``,
    ``predicted``, ``error``) each.

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset.selectors.crest import CrestSelector
    >>> rng = np.random.default_rng(0)
    >>> G = rng.normal(size=(1000, 10))
    >>> y = np.arange(1000) % 4
    >>> sel = CrestSelector(budget=64, subset_fraction=0.2, batch_size=32,
    ...                     random_state=0).fit(G, y)
    >>> sel.indices_.shape, len(sel.random_subsets_), sel.coreset_sizes_
    ((64,), 2, [32, 32])
    >>> [len(s) for s in sel.random_subsets_], float(sel.weights_.sum())
    ([200, 200], 1000.0)
    >>> sel.transform(G).shape
    (64, 10)
    """

    adaptive = True

    _parameter_constraints = {
        "budget": BUDGET_CONSTRAINTS,
        "subset_fraction": [Interval(Real, 0, 1, closed="right")],
        "n_subsets": [None, Interval(Integral, 1, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "curvature": [StrOptions({"diagonal", "full"})],
        "drop_learned": ["boolean"],
        "loss_threshold": [Interval(Real, 0, None, closed="left")],
        "drop_after": [Interval(Integral, 1, None, closed="left")],
        "check_every": [Interval(Integral, 1, None, closed="left")],
        "check_fraction": [Interval(Real, 0, 1, closed="right")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, subset_fraction=0.01, n_subsets=None, batch_size=None,
                 threshold=0.1, curvature="diagonal", drop_learned=True, loss_threshold=0.1,
                 drop_after=5, check_every=1, check_fraction=0.05, device="auto",
                 random_state=None):
        self.budget = budget
        self.subset_fraction = subset_fraction
        self.n_subsets = n_subsets
        self.batch_size = batch_size
        self.threshold = threshold
        self.curvature = curvature
        self.drop_learned = drop_learned
        self.loss_threshold = loss_threshold
        self.drop_after = drop_after
        self.check_every = check_every
        self.check_fraction = check_fraction
        self.device = device
        self.random_state = random_state

    def _coresets(self, F, y, subsets, sizes, device, n):
        """Coresets of each random subset; ``F`` holds the features of their concatenation.

        Returns the selected rows, their weights (random-subset rows served,
        rescaled to the ``n`` candidates) and their positions in ``F``.
        """
        F = F.to(device)
        ys = [np.zeros(len(sub), dtype=np.int64) if y is None else y[sub] for sub in subsets]
        pos, w, start = [], [], 0
        for sub, (local, ws) in zip(subsets, subset_coresets(F, ys, sizes)):
            pos.append(start + local)
            w.append(ws)
            start += len(sub)
        pos = np.concatenate(pos).astype(np.int64)
        return np.concatenate(subsets)[pos], np.concatenate(w) * (n / start), pos

    # -- standalone -----------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, G, y=None):
        """Extract mini-batch coresets from random subsets of the rows of ``G``.

        Parameters
        ----------
        G : array-like, torch.Tensor or LastLayer of shape (n_samples, n_features)
            One feature vector per candidate, e.g. ``softmax(z) - onehot(y)``
            (CREST's last-layer gradient features); or a net's last-layer
            gradients (:func:`sksubset.gradients.last_layer_gradients`),
            whose logits and labels give those features, as in a training
            run.
        y : array-like of shape (n_samples,), default=None
            Class labels; when given, random subsets and coresets are
            stratified by class.  A ``LastLayer`` carries its labels (``y``
            must be those, or None).

        Returns
        -------
        self
        """
        device = self._device(G)
        if isinstance(G, LastLayer):
            ll, y = check_last_layer(G, y, device, torch.float64)
            Gt, (n, d) = features(ll)[1], ll.shape
        else:
            Gt = check_matrix(G, device, torch.float64)
            n, d = Gt.shape
        if y is not None:
            y = np.asarray(y)
            if y.shape != (n,):
                raise ValueError(f"y must have shape ({n},) to match G; got {y.shape}.")
            classes, y = np.unique(y, return_inverse=True)
        k = resolve_budget(self.budget, n)
        rng = check_random_state(self.random_state)
        sizes, m = plan(k, self.batch_size or _DEFAULT_BATCH, self.n_subsets,
                        self.subset_fraction, n, n)
        subsets = draw_random_subsets(np.arange(n), y, m, rng)
        F = Gt[torch.as_tensor(np.concatenate(subsets), device=device)]
        self.indices_, self.weights_, _ = self._coresets(F, y, subsets, sizes, device, n)
        self.random_subsets_ = subsets
        self.coreset_sizes_ = [int(s) for s in sizes]
        if y is not None:
            self.classes_ = classes
        self.n_features_in_ = d
        self.n_samples_fit_ = n
        return self

    # -- training run ---------------------------------------------------------
    def _state(self, context, new=True):
        """This selector's :class:`RunState` in the run of ``context`` (kept in
        ``context.run_state``), a fresh one for a new run if ``new``, else None."""
        slot = ("crest", id(self))
        st = context.run_state.get(slot)
        if st is not None and st.n == context.n_samples and context.epoch >= st.selected_epoch:
            return st
        if not new:
            return None
        st = context.run_state[slot] = RunState(context.n_samples)
        return st

    @staticmethod
    def _finite(loss, where):
        if not math.isfinite(loss):
            raise DivergenceError(f"The net's loss on CREST's random subsets is {loss} at "
                                  f"{where}: training diverged. Try a smaller learning rate.")

    def select(self, context):
        """One CREST round of a training run (see :class:`.SelectionContext`).

        Draws stratified random subsets of the eligible examples, extracts a
        mini-batch coreset from each by facility location on ``softmax - onehot``,
        fits the quadratic model on the check sample (the first random
        subsets, ``check_fraction`` of the data) and remembers the current
        last-layer parameters.  Costs one forward pass over the random
        subsets' rows only; with ``drop_learned`` each of them counts as an
        observation of its loss.
        """
        self._validate_params()
        st = self._state(context)
        y, k, n = np.asarray(context.y), int(context.budget), context.n_samples
        newly = st.drop(y, k, self.drop_after) if self.drop_learned else 0
        pool = np.flatnonzero(~st.dropped)
        sizes, m = plan(k, self.batch_size or context.batch_size, self.n_subsets,
                        self.subset_fraction, n, len(pool))
        subsets = draw_random_subsets(pool, y, m, context.rng)
        rows = np.concatenate(subsets)
        ll = context.train(rows)
        losses = ll.losses().detach().to(torch.float64)  # all rows: the coresets need them all
        self._finite(float(losses.mean()), f"epoch {context.epoch} (selection)")
        n_check = check_rows(m, self.check_fraction, n)
        model = QuadraticModel.fit(ll[:n_check], context.last_layer_params(), self.curvature)
        _, F = features(ll)
        indices, weights, pos = self._coresets(F, y, subsets, sizes, self._device(ll.Z), n)

        # last-layer gradient error of the weighted coresets against their random subsets
        sel_rows = torch.as_tensor(pos, device=F.device)
        Hb = ll.Hb.to(torch.float64)
        full = (F.T @ Hb).reshape(-1) * (n / len(rows))  # the weights stand for n rows
        wt = torch.as_tensor(weights, device=F.device, dtype=torch.float64)
        approx = ((F[sel_rows] * wt.unsqueeze(1)).T @ Hb[sel_rows]).reshape(-1)
        grad_err = float((approx - full).norm() / full.norm().clamp_min(1e-300))

        if self.drop_learned:
            st.observe(rows, losses.cpu().numpy(), context.epoch, self.loss_threshold)
        checks, st.checks = st.checks, []
        st.model, st.random_idx, st.selected_epoch = model, rows, context.epoch
        st.check_idx = rows[:n_check]
        info = {"n_random_subsets": len(subsets), "random_subset_size": int(max(m)),
                "n_random_rows": int(len(rows)), "n_check_rows": int(n_check),
                "n_active": int(len(pool)), "n_dropped": int(st.dropped.sum()),
                "n_newly_dropped": int(newly), "model_loss": model.loss0,
                "gradient_norm": float(model.grad.norm()), "gradient_error": grad_err,
                "checks": checks}
        return Selection(indices, weights, info)

    def check(self, context):
        """Whether to reselect before this epoch (the adaptive trigger).

        Recomputes the mean loss on the check sample (one forward pass over
        its rows), compares it with the quadratic model's prediction at the
        current last-layer parameters, and returns a reason string such as
        ``"quadratic model error 0.14 > 0.1 (loss 0.41, predicted 0.35)"``
        when the relative error exceeds ``threshold``, else ``None``.  Also
        records each examined example's loss for ``drop_learned`` (only the
        check sample's rows are observed at a check).
        """
        st = self._state(context, new=False)
        if st is None or st.model is None:
            return "no quadratic model yet"
        since = context.epoch - st.selected_epoch
        if since % self.check_every:
            return None
        ll = context.train(st.check_idx)
        losses = ll.losses().to(torch.float64)
        actual = float(losses.mean())
        self._finite(actual, f"epoch {context.epoch} (check)")
        predicted = st.model.predict(context.last_layer_params())
        error = abs(actual - predicted) / max(abs(actual), 1e-12)
        st.checks.append({"epoch": int(context.epoch), "loss": actual,
                          "predicted": predicted, "error": error})
        if self.drop_learned:
            st.observe(st.check_idx, losses.cpu().numpy(), context.epoch,
                       self.loss_threshold)
        if error > self.threshold:
            return (f"quadratic model error {error:.3g} > {self.threshold:g} "
                    f"(loss {actual:.4g}, predicted {predicted:.4g}, "
                    f"{since} epoch{'s' if since != 1 else ''} after selection)")
        return None
