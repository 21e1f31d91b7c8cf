"""SubsetTrainingClassifier: adaptive subset training of a skorch net (Algorithm 1).

``SubsetTrainingClassifier(net, budget=0.1).fit(X, y)`` clones ``net`` (a
:class:`skorch.NeuralNetClassifier`), trains it for a few full-data warm-start
epochs, then on weighted subsets chosen by a selector every ``R`` epochs, all
inside one skorch training run.  The epoch layout is
:func:`sksubset.schedule.make_schedule`; the training loop, GRAD-MATCH's
Algorithm 1, is ``SubsetRun`` in ``sksubset/_training/_run.py``.
"""

import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.helper import predefined_split

from ._training._checks import (
    check_module,
    check_selector,
    reseed_module,
    warn_if_below_one_batch,
    warn_if_unconverged,
)
from ._training._dataset import SubsetDataset
from ._training._loss import WEIGHTINGS, weighted_criterion
from ._training._run import SubsetRun
from ._training._skorch import SubsetSchedule
from ._training._split import split
from ._utils.budget import BUDGET_CONSTRAINTS, resolve_budget
from .data import Examples, dataset_labels, prediction_input, read_training_data
from .distributed import processes_of
from .schedule import make_schedule
from .selectors import STRATEGIES, BaseSelector, GradMatchSelector, get_selector

__all__ = ["SubsetTrainingClassifier", "default_selector"]

_CALLBACK = "sksubset_schedule"


def default_selector():
    """The selector of ``SubsetTrainingClassifier(selector=None)`` (and of ``"gradmatch"``).

    Per-class GRAD-MATCH solved with the correlation rule, atoms a step set
    from each class's budget (see the class docstring).

    Returns
    -------
    GradMatchSelector
        A new instance: ``GradMatchSelector(criterion="correlation", per_step="auto")``.
    """
    return GradMatchSelector(criterion="correlation", per_step="auto")


class SubsetTrainingClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Train a skorch classifier on adaptively selected weighted subsets.

    The net trains for ``net.max_epochs`` = ``T`` epochs of budget: first
    ``ceil(floor(kappa T) k / n)`` full-data warm-start epochs, then
    ``T - floor(kappa T)`` epochs on subsets of ``k = budget * n`` examples,
    reselected every ``R`` epochs (:mod:`sksubset.schedule` gives the exact
    layout).  Each example's loss is weighted by its selection weight, as
    ``weighting`` says.

    A round's last-layer gradients come mostly from training itself: each
    training mini-batch computes the logits and last-layer inputs of its
    examples, and the run keeps the latest of each example (on the net's
    device, float32), so a round passes forward only over the candidates not
    trained since the last round: none after the warm start, whose last epoch
    visits every example; later, those outside the last subset.  The kept
    values were computed in training mode, before their mini-batch's step,
    from the input as trained (augmented, for a Dataset with a transform).
    ``selection_history_`` counts both sources of each round; a data-parallel
    run, or a :class:`~sksubset.data.SelectionView`, passes over every
    candidate instead.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The (unfitted) net to train; it is cloned.  Its ``criterion`` must be
        ``torch.nn.CrossEntropyLoss`` (module ending in logits) or skorch's
        default ``torch.nn.NLLLoss`` (module ending in softmax), given as a
        class; its options (``criterion__weight``, ``ignore_index``,
        ``label_smoothing``) are honoured.
    selector : selector instance, str or None, default=None
        How subsets are chosen.  ``None`` (or ``"gradmatch"``):
        ``GradMatchSelector(criterion="correlation", per_step="auto")``,
        per-class GRAD-MATCH whose OMP adds atoms by the correlation rule,
        ``clip(k // 16, 1, 16)`` a step for a class budget of ``k`` (16 from
        256 examples a class on, as measured on Fashion-MNIST; one a step on
        small budgets, where 16 a step would pick a class's whole budget at
        once), for examples and mini-batches alike; ``docs/benchmarks.md``
        ("The classifier's defaults") compares it with the exact search.  The other
        names of :data:`sksubset.selectors.STRATEGIES` are shorthands for
        their selector with its defaults (``"random"`` is
        ``RandomSelector()``).  An instance is cloned for each fit; its
        parameters are searchable as ``selector__<name>`` (for example
        ``selector__lam`` in ``GridSearchCV``).  Its ``budget`` and
        ``random_state`` must be left at their defaults: the classifier's own
        set them for every round, and a changed one raises ``ValueError``
        before training.
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the training examples in each subset, or their number
        (as for the selectors: ``1`` is one example, ``1.0`` all of them; an
        int is also the resource of ``HalvingGridSearchCV(...,
        resource="budget")``).
    R : int >= 1, default=20
        Reselect every ``R`` subset epochs (adaptive selectors decide
        themselves).
    kappa : float in [0, 1], default=0.5
        Warm-start fraction of the epoch budget (0: no warm start).
    per_batch : bool, default=False
        Select mini-batches (of the net's ``batch_size``) instead of examples
        (GRAD-MATCH-PB, CRAIG-PB); refused for the selectors without a
        per-batch variant.
    weighting : {"batch", "subset", "none"}, default="batch"
        How the selection weights enter the loss of a mini-batch of subset
        training, with per-example losses ``l_i``, weights ``w_i`` and ``m_i``
        the class weight of example ``i``'s label (1 without
        ``criterion__weight``; torch's mean is ``sum l_i / sum m_i``):
        ``"batch"``: ``sum w_i l_i / sum w_i m_i`` (normalized within each
        mini-batch, as the papers' code trains); ``"subset"``: ``sum w_i l_i /
        sum m_i`` with weights averaging 1 over the subset (an unbiased
        estimate of the weighted subset loss, but a mini-batch that draws a
        few heavy examples takes a step many times the learning rate);
        ``"none"``: the weights are ignored (the ablation).  All weights 1
        give torch's own loss.  ``"batch"`` is the default because it never
        collapsed and lost nothing measurable at the papers' settings
        (``docs/benchmarks.md``, "Weighting").
    valid_size : float in (0, 1), int or None, default=None
        Hold out this much of the training data (stratified) and match its
        gradient instead of the training gradient (the paper's *isValid*).
        The hold-out is also the net's validation set.  With ``None``, a
        ``train_split`` of the net is applied once, to the full data, and only
        for monitoring; subsets are always drawn from the training part.
    random_state : int, RandomState instance or None, default=None
        Seeds the selections, the hold-out split and (through a forked torch
        generator) the net's initialization and shuffling, so that the same
        value gives the same run on the same device, in any process.  A
        module given to the net as an instance is re-initialized for that
        (each layer's ``reset_parameters()``); with ``None`` it starts from
        the weights it has.
    verbose : int, default=1
        Progress bar over the epochs, showing the phase (``warm``, ``select``,
        ``subset``).  0: never.  1: where a person watches, that is when
        standard error is a terminal or the code runs in a Jupyter notebook,
        and the estimator being fitted is not a clone made by
        :func:`sklearn.base.clone` (searches and cross-validation fit clones,
        so they stay silent).  2 or more: wherever the output goes (a log file,
        a captured stream, every fit of a search).  Never together with the
        net's own epoch table (a skorch net with ``verbose > 0`` prints one,
        with ``phase`` and ``subset_size`` columns).

    Raises
    ------
    sksubset.exceptions.DivergenceError
        From ``fit``, when the training loss becomes NaN or infinite, or the
        logits or last-layer inputs at a selection do; the message names the
        epoch, the phase (warm start or subset training) and the selection
        round.  A run whose final training loss ends more than twice its first
        mini-batch's loss gets a :class:`~sklearn.exceptions.ConvergenceWarning`.

    Attributes
    ----------
    net_ : skorch.NeuralNetClassifier
        The trained net.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Only after a fit on arrays.
    schedule_ : sksubset.schedule.Schedule
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
        Epochs trained.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from sksubset import SubsetTrainingClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
    ...                              torch.nn.Linear(32, 10))
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss,
    ...                           max_epochs=10, lr=0.05, train_split=None, verbose=0)
    >>> clf = SubsetTrainingClassifier(net, budget=0.2, R=2, random_state=0, verbose=0)
    >>> clf.fit(X / 16, y).score(X / 16, y) > 0.8
    True
    """

    _parameter_constraints = {
        "net": [HasMethods(["fit", "predict_proba"])],
        "selector": [None, StrOptions(set(STRATEGIES)), BaseSelector],
        "budget": BUDGET_CONSTRAINTS,
        "R": [Interval(Integral, 1, None, closed="left")],
        "kappa": [Interval(Real, 0, 1, closed="both")],
        "per_batch": ["boolean"],
        "weighting": [StrOptions(set(WEIGHTINGS))],
        "valid_size": [None, Interval(Real, 0, 1, closed="neither"),
                       Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, net, selector=None, budget=0.1, R=20, kappa=0.5, per_batch=False,
                 weighting="batch", valid_size=None, random_state=None, verbose=1):
        self.net = net
        self.selector = selector
        self.budget = budget
        self.R = R
        self.kappa = kappa
        self.per_batch = per_batch
        self.weighting = weighting
        self.valid_size = valid_size
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------
    def _make_selector(self):
        """A fresh selector instance for this fit (see ``selector``)."""
        if isinstance(self.selector, BaseSelector):
            return clone(self.selector)
        if self.selector is None or self.selector == "gradmatch":
            return default_selector()
        return get_selector(self.selector)()

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
        y : array-like of shape (n_samples,), SliceDataset or None
            Class labels (any values; encoded internally); ``None`` with a
            Dataset, whose items carry them.

        Returns
        -------
        self
        """
        t_start = time.perf_counter()
        if not isinstance(self.net, NeuralNetClassifier):
            raise TypeError("net must be a skorch.NeuralNetClassifier; got "
                            f"{type(self.net).__name__}.")
        weighted_criterion(self.net.criterion)  # fail early on an unsupported loss
        selector = self._make_selector()
        check_selector(selector, self.per_batch)
        rows, y = read_training_data(self, X, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"The target y needs samples of at least 2 classes; got "
                             f"{len(self.classes_)} class.")
        y_enc = encoder.transform(y).astype(np.int64)
        rng = processes_of(self.net).shared_random_state(check_random_state(self.random_state))
        seed = rng.randint(2**31 - 1)
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices, enabled=self.random_state is not None):
            torch.manual_seed(seed)
            self._fit(Examples(rows, y_enc), y_enc, selector, rng, t_start)
        return self

    def _fit(self, examples, y, selector, rng, t_start):
        net = clone(self.net)
        pool, valid = split(self.valid_size, net.train_split, examples, y, rng)
        k = resolve_budget(self.budget, len(pool))
        self.subset_size_ = k
        self.schedule_ = make_schedule(net.max_epochs, k, len(pool), self.R, self.kappa)
        if self.schedule_.subset_epochs:
            warn_if_below_one_batch(k, len(pool), net.batch_size)
        valid = None if valid is None else examples.take(valid).clean()
        if len(pool) < len(y):
            examples = examples.take(pool)
        net.set_params(
            criterion=weighted_criterion(net.criterion), criterion__weighting=self.weighting,
            classes=list(range(len(self.classes_))),
            train_split=None if valid is None else predefined_split(valid),
            callbacks=list(net.callbacks or []) + [(_CALLBACK, SubsetSchedule())],
        )
        net.initialize()
        if self.random_state is not None:
            reseed_module(net)
        check_module(net, examples, len(self.classes_))
        run = SubsetRun(net, SubsetDataset(examples.rows, examples.y), self.schedule_, selector,
                        subset_size=k, pool=pool, valid=valid, rng=rng,
                        n_classes=len(self.classes_), per_batch=self.per_batch,
                        verbose=0 if self.verbose == 1 and self._cloned else self.verbose,
                        setup_seconds=time.perf_counter() - t_start)
        run.train()
        warn_if_unconverged(net.history, net.lr)
        self.net_ = net
        self.selection_history_ = run.history
        self.n_iter_ = run.epoch
        self.timing_ = run.clock.timing()

    # -- prediction -------------------------------------------------------
    def _check_X(self, X):
        check_is_fitted(self, "net_")
        return prediction_input(self, X)

    def predict_proba(self, X):
        """Class probabilities of the trained net.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._check_X(X)
        return self.net_.predict_proba(X)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy on ``(X, y)``; ``y=None`` with a Dataset reads its labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset
        y : array-like of shape (n_samples,) or None
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float
        """
        return super().score(X, dataset_labels(X) if y is None else y, sample_weight)

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
