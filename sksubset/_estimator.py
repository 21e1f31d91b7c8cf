"""What the classifier and the regressor share: parameters, defaults, ``fit``, the run.

:class:`BaseSubsetTraining` holds the parameters of both estimators (their one
set of defaults), their validation (``_parameter_constraints``), the ``fit``
skeleton that reads the data, checks it before training and trains one
:class:`~sksubset._training._run.SubsetRun`, and the scikit-learn plumbing
(clone marking, tags).  A subclass says what its targets are
(:meth:`~BaseSubsetTraining._check_net`, :meth:`~BaseSubsetTraining._targets`)
and how it predicts.  The parameters' documentation is shared too: a subclass
docstring's ``%(parameters)s``, ``%(raises)s`` and ``%(attributes)s`` lines are filled in from
here.
"""

import contextlib
import threading
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.helper import predefined_split

from ._training._checks import (
    check_loss,
    check_module,
    check_selector,
    reseed_module,
    warn_if_below_one_batch,
    warn_if_unconverged,
)
from ._training._cost import R_MIN, space_rounds
from ._training._dataset import SubsetDataset
from ._training._loss import WEIGHTINGS, weighted_criterion
from ._training._options import check_net_options
from ._training._run import SubsetRun
from ._training._skorch import SubsetSchedule
from ._training._split import ValidationDataset, split
from ._utils.budget import BUDGET_CONSTRAINTS, resolve_budget
from .data import Examples, prediction_input, read_training_data
from .distributed import processes_of
from .schedule import make_schedule
from .selectors import STRATEGIES, BaseSelector, GradMatchSelector, RandomSelector, get_selector

__all__ = ["BaseSubsetTraining", "default_selector"]

_CALLBACK = "sksubset_schedule"
#: held by a seeded fit: fits in threads of one process share torch's global generator, so a
#: seeded one trains alone (reentrant: a fit inside a fit, in the same thread, goes on)
_SEEDED_FITS = threading.RLock()


def default_selector(regression=False):
    """The selector of ``selector=None``: the classifier's, or with ``regression`` the regressor's.

    The classifier's (also ``"gradmatch"`` for both estimators): per-class
    GRAD-MATCH over a pool of three times the budget, drawn class by class
    and cycling through the data, solved with the correlation rule, atoms a
    step set from each class's budget (see
    :class:`~sksubset.SubsetTrainingClassifier`).  The regressor's: random
    subsets (RANDOM-WARM with the default ``kappa``), because on the
    regression set measured GRAD-MATCH lost to them at every budget, at many
    times their cost (:doc:`/benchmarks`, "Regression: Friedman #1").

    Returns
    -------
    BaseSelector
        A new instance: ``GradMatchSelector()`` (``pool_factor=3,
        sampling="cycle", criterion="correlation", per_step="auto",
        max_support=256``), or ``RandomSelector()``.
    """
    if regression:
        return RandomSelector()
    return GradMatchSelector()


_PARAMETERS = """\
selector : selector instance, str or None, default=None
    How subsets are chosen.  ``None``: for the classifier (and ``"gradmatch"``
    for both estimators) ``GradMatchSelector(pool_factor=3, sampling="cycle",
    criterion="correlation", per_step="auto")``, per-class GRAD-MATCH
    whose round examines a pool of three times each class's budget, drawn so
    that successive pools cycle through the data, and whose OMP adds atoms
    by the correlation rule, ``max(k // 16, 1)`` a step for a class budget
    of ``k``; with ``R=5`` the best configuration measured on two data sets
    at 5%, 10% and 30% (:doc:`/benchmarks`, "Defaults chosen by
    measurement"), for examples and mini-batches alike.  For the regressor
    ``RandomSelector()``: on the regression set measured, random subsets
    after the warm start (RANDOM-WARM) beat GRAD-MATCH at every budget
    (:doc:`/benchmarks`, "Regression: Friedman #1").  A regressor has no classes: its
    rows form one group, for every selector (``per_class`` changes
    nothing).  The other names of
    :data:`sksubset.selectors.STRATEGIES` are shorthands for their selector
    with its defaults (``"random"`` is ``RandomSelector()``).  An instance
    is cloned for each fit.  Its parameters are searchable as
    ``selector__<name>`` (for example ``{"selector__lam": [0.1, 1.0]}`` in
    ``GridSearchCV``), with an instance, a name or ``None``: for a name or
    ``None``, ``set_params`` first puts the instance it stands for in
    ``selector``.  Its ``budget`` and ``random_state`` must be left at
    their defaults: the estimator's own set them for every round, and a
    changed one raises ``ValueError`` before training.
budget : float in (0, 1] or int >= 1, default=0.1
    Fraction of the training examples in each subset, or their number
    (as for the selectors: ``1`` is one example, ``1.0`` all of them; an
    int is also the resource of ``HalvingGridSearchCV(...,
    resource="budget")``).
R : int >= 1 or "auto", default="auto"
    Reselect every ``R`` subset epochs (adaptive selectors decide
    themselves).  ``"auto"``: rounds spaced by what they cost, so that
    selection takes at most ``selection_share`` of the run, decided before
    training from shapes (never the clock): every 5 subset epochs (the
    interval measured best when rounds are cheap); when a round is dear
    next to a subset epoch, first the selector's pool shrinks (down to 1.5
    times the budget), then rounds come less often (never fewer than four
    in the run).  The decision is ``spacing_``.  An int is that interval,
    whatever it costs (the papers' 20 reselected too rarely to come out
    ahead of plain shorter training in our measurements,
    :doc:`/benchmarks`).
selection_share : float in (0, 1], default=0.05
    With ``R="auto"``: the share of the run's predicted compute (training
    plus selection) that selection rounds may take.
kappa : float in [0, 1], default=0.5
    Warm-start fraction of the epoch budget (0: no warm start).
per_batch : bool, default=False
    Select mini-batches (of the net's ``batch_size``) instead of examples
    (GRAD-MATCH-PB, CRAIG-PB); refused for the selectors without a
    per-batch variant.
weighting : {"batch", "subset", "none"}, default="batch"
    How the selection weights enter the loss of a mini-batch of subset
    training, with per-example losses ``l_i``, weights ``w_i`` and ``m_i``
    example ``i``'s share of torch's mean ``sum l_i / sum m_i`` (for a
    classifier the class weight of its label, 1 without
    ``criterion__weight``; 1 for a regressor): ``"batch"``: ``sum w_i l_i /
    sum w_i m_i`` (normalized within each mini-batch, as the papers' code
    trains); ``"subset"``: ``sum w_i l_i / sum m_i`` with weights averaging
    1 over the subset (an unbiased estimate of the weighted subset loss,
    but a mini-batch that draws a few heavy examples takes a step many
    times the learning rate); ``"none"``: the weights are ignored (the
    ablation).  All weights 1 give torch's own loss.  ``"batch"`` is the
    default because it never collapsed and lost nothing measurable at the
    papers' settings (:doc:`/benchmarks`, "Weighting").
valid_size : float in (0, 1), int or None, default=None
    Hold out this much of the training data (stratified by class for a
    classifier) and match its gradient instead of the training gradient
    (the paper's *isValid*).  The hold-out is also the net's validation
    set.  With ``None``, a ``train_split`` of the net is applied once, to
    the full data, and only for monitoring; subsets are always drawn from
    the training part.
random_state : int, RandomState instance or None, default=None
    Seeds the selections and the hold-out split (a NumPy ``RandomState``
    made from it) and the net's initialization, shuffling and dropout: those
    draw from torch's global generator, which the fit seeds on entry and
    restores on exit (``torch.random.fork_rng``).  The same value gives the
    same run in any process, on the same device with the same versions of
    torch and skorch and the same number of torch threads, as long as
    nothing else draws from torch's global generator while the fit trains.
    That generator is shared by all the threads of a process: seeded fits in
    threads of one process (a threaded search, a Dask worker with several
    threads) take turns, but an unseeded fit or any other torch code that
    draws random numbers in another thread at the same time changes a
    seeded fit's run.  Seed every fit of a threaded search, or run such
    work in other processes.  A module given to the net as an instance is
    re-initialized for that (each layer's ``reset_parameters()``); with
    ``None`` it starts from the weights it has.
verbose : int, default=1
    Progress on standard error: a line saying how many of the scheduled
    epochs are trained (the warm start pays for the others), then, where a
    person watches (standard error is a terminal, or a Jupyter notebook), a
    bar over the run's cost showing the epochs trained, the phase (``warm``,
    ``select``, ``subset``) and the training loss, or elsewhere (a log file,
    a captured stream) one line per selection round; last, a summary line
    (epochs trained, selection rounds, their share of the time, the total
    time).  0: nothing.  1: all that, unless the estimator being fitted is
    a clone made by :func:`sklearn.base.clone` (searches and
    cross-validation fit clones, so they stay silent).  2 or more: the bar
    wherever the output goes, in every fit of a search too.  Never together
    with the net's own epoch table (a skorch net with ``verbose > 0``
    prints one, with ``phase`` and ``subset_size`` columns)."""

_RAISES = """\
Raises
------
ValueError
    From ``fit``, before any training step, for a bad parameter or input,
    and when the initialized net on the first rows of the data gives a
    loss that is not finite, or an output its criterion does not take (a
    module ending in ``nn.Linear`` with skorch's default ``NLLLoss``, which
    takes probabilities; for a selector that reads last-layer gradients, a
    module whose output is not its last ``nn.Linear``'s, or that layer's
    softmax for ``NLLLoss``).
sksubset.exceptions.DivergenceError
    From ``fit``, when the training loss becomes NaN or infinite, or the
    outputs or last-layer inputs at a selection do; the message names the
    epoch, the phase (warm start or subset training) and the selection
    round, and suggests a smaller learning rate unless the loss was not
    finite before the first optimizer step.  A run whose final training
    loss ends more than twice its first mini-batch's loss gets a
    :class:`~sklearn.exceptions.ConvergenceWarning`."""

_ATTRIBUTES = """\
n_features_in_ : int
    Only after a fit on arrays.
schedule_ : sksubset.schedule.Schedule
spacing_ : RoundPlan
    How the rounds were spaced (``R``: the interval used; ``rule``: the
    user's ``"given"`` interval, ``"share"``, ``"pool"`` when the pool was
    shrunk too, or ``"unpriced"`` for a selector that predicts no cost;
    ``pool_factor``; ``round_epochs``, a later round's predicted cost in
    subset epochs; ``share``, the rounds' predicted share of the run).
subset_size_ : int
    ``k``, examples per subset epoch.
selection_history_ : list of dict
    One record per selection round: ``epoch`` (trained-epoch index),
    ``indices`` and ``weights`` (into the training data given to
    ``fit``), ``gradient_error`` (when the selector computes it),
    ``seconds`` (``gradient_seconds`` in forward passes, ``solver_seconds``
    in the selector), ``n_harvested`` and ``n_forward`` (candidate rows
    whose factors training computed, and those a forward pass did),
    ``reason`` and the selector's own extras.
timing_ : dict
    Wall-clock seconds: ``setup``, ``warm_start``, ``gradients``,
    ``solver``, ``subset_training`` and ``total`` (their sum).  In the
    first fit of a process, ``setup`` also holds torch's one-time import
    of its compiler (``torch._dynamo``, 1-4 s), which the first torch
    optimizer of a process triggers, with or without sksubset.
n_iter_ : int
    Epochs trained."""


def _indented(text, indent):
    return "\n".join(indent + line if line else line for line in text.splitlines())


class BaseSubsetTraining(MetaEstimatorMixin, BaseEstimator):
    """Base class of the subset-training estimators (see the module docstring)."""

    _parameter_constraints = {
        "selector": [None, StrOptions(set(STRATEGIES)), BaseSelector],
        "budget": BUDGET_CONSTRAINTS,
        "R": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "selection_share": [Interval(Real, 0, 1, closed="right")],
        "kappa": [Interval(Real, 0, 1, closed="both")],
        "per_batch": ["boolean"],
        "weighting": [StrOptions(set(WEIGHTINGS))],
        "valid_size": [None, Interval(Real, 0, 1, closed="neither"),
                       Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: whether the estimator's net is a regressor (its loss, targets and hold-out)
    _regression = False

    def __init__(self, net, selector=None, budget=0.1, R="auto", selection_share=0.05, kappa=0.5,
                 per_batch=False, weighting="batch", valid_size=None, random_state=None,
                 verbose=1):
        self.net = net
        self.selector = selector
        self.budget = budget
        self.R = R
        self.selection_share = selection_share
        self.kappa = kappa
        self.per_batch = per_batch
        self.weighting = weighting
        self.valid_size = valid_size
        self.random_state = random_state
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        doc = cls.__dict__.get("__doc__")
        if doc:
            for key, text in (("parameters", _PARAMETERS), ("raises", _RAISES),
                              ("attributes", _ATTRIBUTES)):
                doc = doc.replace(f"    %({key})s", _indented(text, "    "))
            cls.__doc__ = doc

    # -- what a subclass says ----------------------------------------------
    def _check_net(self):  # pragma: no cover - interface
        """Raise TypeError or ValueError for a net (or criterion) this estimator cannot train."""
        raise NotImplementedError

    def _targets(self, y):  # pragma: no cover - interface
        """The targets the net trains on, from ``y`` as read; sets the fitted attributes
        that describe them (``classes_``, ``n_outputs_``)."""
        raise NotImplementedError

    def _net_params(self):
        """Extra parameters of the cloned net (the classifier's ``classes``)."""
        return {}

    def _n_outputs(self):  # pragma: no cover - interface
        """``(width of the module's output, what each column is, for messages)``."""
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------
    def _make_selector(self):
        """A fresh selector instance for this fit (see ``selector``)."""
        if isinstance(self.selector, BaseSelector):
            return clone(self.selector)
        return self._selector_for(self.selector)

    def _selector_for(self, selector):
        """The instance that ``selector=None`` or a strategy name stands for."""
        if selector is None or selector == "gradmatch":
            return default_selector(self._regression and selector is None)
        if selector not in STRATEGIES:
            raise ValueError(f"The 'selector' parameter must be None, one of "
                             f"{', '.join(map(repr, STRATEGIES))} or a selector instance; "
                             f"got {selector!r}.")
        return get_selector(selector)()

    def set_params(self, **params):
        """Set the parameters of this estimator, nested ``selector__*`` ones included.

        With ``selector=None`` or a strategy name (given here or set
        before), ``selector__<name>`` keys first replace ``selector`` by the
        instance it stands for (the estimator's default selector, or the
        named strategy's with its defaults), then set its ``<name>``: so
        ``GridSearchCV(SubsetTrainingClassifier(net),
        {"selector__lam": [0.1, 1.0]})`` searches the default selector's
        ``lam``.

        Parameters
        ----------
        **params : dict
            Estimator parameters, and ``net__*`` and ``selector__*`` ones.

        Returns
        -------
        self
        """
        own = self.get_params(deep=False)
        for key in params:
            name = key.partition("__")[0]
            if name not in own:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; its "
                                 f"parameters are {sorted(own)}, and those of its net and "
                                 f"selector, as net__<name> and selector__<name>.")
        nested = [key.partition("__")[2] for key in params if key.startswith("selector__")]
        if nested:
            selector = params.get("selector", self.selector)
            if not isinstance(selector, BaseSelector):
                selector = self._selector_for(selector)
                params = {**params, "selector": selector}
            allowed = selector.get_params(deep=False)
            for name in nested:
                if name.partition("__")[0] not in allowed:
                    raise ValueError(f"Invalid parameter selector__{name}: the selector "
                                     f"{type(selector).__name__} has no {name!r}; its "
                                     f"parameters are {sorted(allowed)}.")
        return super().set_params(**params)

    def _read(self, X, y):
        """The rows and labels (targets) of what ``fit`` got (:mod:`sksubset.data`)."""
        return read_training_data(self, X, y)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train ``net`` on selected subsets of ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset
            Inputs as the module takes them (converted to float32); or a
            :class:`torch.utils.data.Dataset` of ``(x, y)`` items, read through
            its transform every time an example is trained on (subsets are
            index views of it); or a :class:`skorch.helper.SliceDataset` of
            one, for scikit-learn's splitters (see :mod:`sksubset.data`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), SliceDataset or None
            Class labels (any values; encoded internally) for a classifier,
            real targets for a regressor; ``None`` with a Dataset, whose items
            carry them.

        Returns
        -------
        self
        """
        t_start = time.perf_counter()
        self._check_net()
        check_net_options(self.net, self.valid_size)
        selector = self._make_selector()
        check_selector(selector, self.per_batch, self._regression)
        rows, y = self._read(X, y)
        y = self._targets(y)
        rng = processes_of(self.net).shared_random_state(check_random_state(self.random_state))
        seed = rng.randint(2**31 - 1)
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        seeded = self.random_state is not None
        with (_SEEDED_FITS if seeded else contextlib.nullcontext()), \
                torch.random.fork_rng(devices=devices, enabled=seeded):
            torch.manual_seed(seed)
            self._fit(Examples(rows, y), y, selector, rng, t_start)
        return self

    def _fit(self, examples, y, selector, rng, t_start):
        net = clone(self.net)
        strata = None if self._regression else y
        pool, valid = split(self.valid_size, net.train_split, examples, strata, rng)
        k = resolve_budget(self.budget, len(pool))
        self.subset_size_ = k
        if make_schedule(net.max_epochs, k, len(pool), R_MIN, self.kappa).subset_epochs:
            warn_if_below_one_batch(k, len(pool), net.batch_size)
        if isinstance(valid, np.ndarray):
            valid = examples.take(valid).clean()
        elif valid is not None:  # a train_split's own validation data (predefined_split)
            valid = ValidationDataset(valid, None if self._regression else self.classes_,
                                      examples.y[0].numel())
        if len(pool) < len(y):
            examples = examples.take(pool)
        net.set_params(
            criterion=weighted_criterion(net.criterion, self._regression),
            criterion__weighting=self.weighting,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=list(net.callbacks or []) + [(_CALLBACK, SubsetSchedule())],
            **self._net_params())
        try:
            net.initialize()
        except (RuntimeError, ValueError, TypeError) as exc:
            raise ValueError(f"The net could not be initialized: {exc} (check net.module, "
                             f"net.optimizer and their module__*, optimizer__* "
                             f"arguments).") from exc
        if self.random_state is not None:
            reseed_module(net)
        check_module(net, examples, *self._n_outputs())
        check_loss(net, examples, selector.uses_last_layer, self._regression)
        groups = np.zeros(len(examples), np.int64) if self._regression else None
        sizes = ([len(examples)] if self._regression
                 else np.bincount(np.asarray(examples.y), minlength=len(self.classes_)))
        self.spacing_ = space_rounds(net, examples, selector, k=k, class_sizes=sizes,
                                     n_valid=0 if valid is None else len(valid),
                                     kappa=self.kappa, R=self.R, share=self.selection_share,
                                     per_batch=self.per_batch)
        self.schedule_ = make_schedule(net.max_epochs, k, len(pool), self.spacing_.R, self.kappa)
        run = SubsetRun(net, SubsetDataset(examples.rows, examples.y), self.schedule_, selector,
                        subset_size=k, pool=pool, rng=rng,
                        valid=None if self.valid_size is None else valid,  # else monitoring
                        n_classes=1 if self._regression else len(self.classes_),
                        groups=groups, per_batch=self.per_batch,
                        verbose=0 if self.verbose == 1 and self._cloned else self.verbose,
                        setup_seconds=time.perf_counter() - t_start)
        run.train()
        warn_if_unconverged(net.history, net.lr)
        self.net_ = net
        self.selection_history_ = run.history
        self.n_iter_ = len(net.history)  # a callback that stops training ends the epoch first
        self.timing_ = run.clock.timing()

    # -- prediction -------------------------------------------------------
    def _check_X(self, X):
        check_is_fitted(self, "net_")
        return prediction_input(self, X)

    #: set on the clones :func:`sklearn.base.clone` makes (see ``verbose``)
    _cloned = False

    def __sklearn_clone__(self):
        """A new unfitted estimator with the same parameters, marked as a clone (``verbose``)."""
        est = super().__sklearn_clone__()
        est._cloned = True
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags
