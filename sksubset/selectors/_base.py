"""What every selector shares: the fit/transform contract and the selection context.

A selector is used in two ways:

* standalone, like an apricot selector: ``fit(G, y)`` on a matrix with one row
  per candidate (gradients, features), or on a net's last-layer gradients
  given by their factors (:func:`sksubset.gradients.last_layer_gradients`),
  then ``indices_`` and ``weights_``, and ``transform(X)`` returns
  ``X[indices_]``; ``fit_resample(X, y)`` is imbalanced-learn's sampler
  interface (the selected rows of ``X`` and ``y``);
* inside :class:`~sksubset.SubsetTrainingClassifier`, which calls
  ``select(context)`` every selection round.  The :class:`SelectionContext`
  is the only thing the selector sees of the training run: labels, the budget,
  a random generator and lazily computed last-layer quantities of the net.  A
  selector never touches the net itself.

Because ``transform`` returns fewer rows than it was given, a selector is not a
scikit-learn transformer (it does not inherit ``TransformerMixin``).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import TransformerTags
from sklearn.utils.validation import check_is_fitted

from .._utils.validation import resolve_device
from ..gradients import LastLayer
from ._rows import take_rows

__all__ = ["BaseSelector", "RoundShape", "Selection", "SelectionContext"]


@dataclass(frozen=True)
class RoundShape:
    """The shapes of a training run's selection rounds, known before the run.

    A selector predicts from them what one of its rounds costs
    (:meth:`BaseSelector.round_flops`), so that the run can space its rounds
    by their cost without reading a clock (see
    :class:`~sksubset.SubsetTrainingClassifier`'s ``R="auto"``).

    Attributes
    ----------
    class_sizes : tuple of int
        Rows of each group of the ground set (each class; one group for a
        regressor).
    budget : int
        Examples a round selects.
    n_outputs : int
        Width of the net's output (``C``).
    n_inputs : int
        Width of the last layer's input plus one for its bias (``m + 1``).
    forward_flops : float
        Floating-point operations of one example's forward pass.
    free_share : float
        Expected share of the ground set whose factors cost no forward pass
        in the round (``SelectionContext.free``): 1 after the warm start, the
        subset's share afterwards, 0 without harvest.
    n_valid : int
        Held-out rows whose gradient the round matches (0: none).
    per_batch : bool
    batch_size : int
    """

    class_sizes: tuple
    budget: int
    n_outputs: int
    n_inputs: int
    forward_flops: float
    free_share: float = 0.0
    n_valid: int = 0
    per_batch: bool = False
    batch_size: int = 1


@dataclass
class SelectionContext:
    """Everything a selector may use in one selection round of a training run.

    Built by :class:`~sksubset.SubsetTrainingClassifier`; the last-layer
    quantities are computed on demand (and cached for the round), so a
    selector that needs no gradients costs no forward pass.

    Attributes
    ----------
    y : ndarray of shape (n_samples,)
        Encoded labels (``0 .. n_classes-1``) of the ground set.
    n_classes : int
    budget : int
        Number of examples to select.
    batch_size : int
        The net's training batch size (the ground-set unit in per-batch mode).
    per_batch : bool
        Select mini-batches rather than examples (selectors that support it).
    rng : numpy.random.RandomState
        Source of randomness; advances from round to round.
    epoch : int
        Index of the first epoch trained on the selection.
    device : torch.device
    train_fn : callable ``indices -> LastLayer``
        Last-layer quantities of ground-set rows (``None`` for all).
    valid_fn : callable ``() -> LastLayer`` or None
        The same for the held-out validation data, when there is some.
    params_fn : callable ``() -> torch.Tensor`` or None
        Current parameters of the net's last linear layer, flattened in the
        gradient layout of :mod:`sksubset.gradients` (block ``c`` = bias ``c``
        then weight row ``c``), so that a parameter change dotted with a
        gradient is a first-order change of the loss.
    free : ndarray of int
        Sorted ground-set rows whose last-layer quantities cost no forward
        pass this round (training computed them since the last round); empty
        by default and in a data-parallel run.  A selector that examines only
        some rows may prefer these (GRAD-MATCH's candidate pools do).
    run_state : dict
        What selectors keep from one round to the next of the same run
        (CREST's quadratic model, the streams of ``sampling="cycle"``), under
        keys of their own; a selector instance keeps nothing of a run.  The
        training run hands the same dict to every round's context and drops it
        with the run.  Contexts built by hand for several rounds of one run
        share one dict (``run_state=state``); a new dict starts a new run.
    """

    y: np.ndarray
    n_classes: int
    budget: int
    batch_size: int
    per_batch: bool
    rng: np.random.RandomState
    epoch: int
    device: torch.device
    train_fn: Callable
    valid_fn: Callable | None = None
    params_fn: Callable | None = None
    free: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    run_state: dict = field(default_factory=dict, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def last_layer_params(self):
        """Current last-layer parameters (see ``params_fn``)."""
        return None if self.params_fn is None else self.params_fn()

    @property
    def n_samples(self):
        return len(self.y)

    def train(self, indices=None):
        """Last-layer quantities of the ground set (``indices=None``: all rows)."""
        if indices is None:
            if "train" not in self._cache:
                self._cache["train"] = self.train_fn(None)
            return self._cache["train"]
        if "train" in self._cache:
            full = self._cache["train"]
            idx = torch.as_tensor(np.asarray(indices), device=full.E.device)
            return full[idx]
        return self.train_fn(np.asarray(indices))

    def valid(self):
        """Last-layer quantities of the validation data, or ``None``."""
        if self.valid_fn is None:
            return None
        if "valid" not in self._cache:
            self._cache["valid"] = self.valid_fn()
        return self._cache["valid"]


@dataclass
class Selection:
    """What a selector returns from one round: rows, weights and a record.

    ``weights`` has the meaning of ``weights_`` (:class:`BaseSelector`), with
    ``n`` the number of candidate rows of the round (``context.n_samples``).
    """

    indices: np.ndarray
    weights: np.ndarray
    info: dict = field(default_factory=dict)


class BaseSelector(BaseEstimator):
    """Base class of the selectors (see the module docstring).

    Every selector sets, in ``fit``, ``indices_`` (the selected rows) and
    ``weights_`` (one per selected row), and returns the same two from
    ``select`` as a :class:`Selection`.

    **What the weights mean** (the same for every selector): ``weights_[j]``
    is how many of the ``n`` candidate rows the selected row ``j`` stands
    for, so that ``sum_j weights_[j] g_j`` estimates the sum of the
    candidates' gradients ``sum_i g_i``.  They sum to ``n`` for RANDOM
    (``n / k`` each), CRAIG (the sizes of the clusters each medoid serves;
    per class with a budget below the number of classes, the rows of the
    classes that received part of it), CREST (the random-subset rows each
    medoid serves, rescaled to ``n``) and GLISTER (``n / k`` each).
    GRAD-MATCH's are fitted so that the weighted sum matches the gradient
    sum; their own sum is not constrained (near ``n`` when the gradients
    share one direction, well below it when they point many ways).  A
    training run normalizes the weights to mean 1 over the subset, so a
    constant factor changes nothing there; for an estimator's
    ``sample_weight`` they keep the scale of the whole data.
    """

    #: whether the selector decides itself when to reselect
    adaptive = False
    #: whether ``select`` has a per-batch variant (``SubsetTrainingClassifier(per_batch=True)``)
    supports_per_batch = False
    #: whether ``select`` reads the net's last-layer quantities (``SelectionContext.train``)
    uses_last_layer = True

    def round_flops(self, shape):
        """Predicted floating-point operations of one round of a training run, or ``None``.

        Parameters
        ----------
        shape : RoundShape

        Returns
        -------
        float or None
            ``None`` (the default): the selector does not predict its cost, and
            ``R="auto"`` keeps its smallest interval for it.
        """
        return None

    def _device(self, *arrays):
        """The torch device of ``self.device`` (``"auto"``: where ``arrays`` live)."""
        arrays = [a.E if isinstance(a, LastLayer) else a for a in arrays]
        try:
            device = resolve_device(self.device, *arrays)
        except RuntimeError as exc:
            raise ValueError(f"device={self.device!r} is not a valid torch device; use "
                             "'auto', 'cpu', 'cuda' or 'cuda:N'.") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but CUDA is not available; use 'auto' "
                             "or 'cpu'.")
        return device

    def _check_options(self):
        """Checks that involve several parameters (none by default)."""

    def _check_params(self):
        """Validate the parameters as ``fit`` does, without fitting.

        :class:`~sksubset.SubsetTrainingClassifier` calls this on a selector
        instance before any training, so that a bad value fails at once and
        not at the first selection.
        """
        if hasattr(self, "_parameter_constraints"):  # a user's selector may have none
            self._validate_params()
        self._check_options()
        if hasattr(self, "device"):
            self._device()

    def transform(self, X):
        """Return the selected rows of ``X`` (``X[indices_]``).

        Parameters
        ----------
        X : array-like, torch.Tensor, LastLayer or torch Dataset of shape (n_samples, ...)
            Data aligned with the rows the selector was fitted on (the
            gradients themselves, or the inputs they were computed from).

        Returns
        -------
        X_subset : same kind as X, of n_selected rows
            A torch ``Dataset`` gives a :class:`torch.utils.data.Subset` view.
        """
        check_is_fitted(self, "indices_")
        return take_rows(X, self.indices_, self.n_samples_fit_)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on ``X`` and return its selected rows."""
        return self.fit(X, y, **fit_params).transform(X)

    def fit_resample(self, X, y, *, gradients=None, **fit_params):
        """Select rows and return them with their labels (imbalanced-learn's sampler API).

        Parameters
        ----------
        X : array-like, torch.Tensor or torch Dataset of shape (n_samples, ...)
            The rows to resample.
        y : array-like of shape (n_samples,)
            Their labels.
        gradients : array-like, torch.Tensor or LastLayer, default=None
            What to select on, one row per row of ``X`` (e.g.
            ``last_layer_gradients(net, X, y)``); ``None`` selects on ``X``
            itself.
        **fit_params
            Passed to ``fit`` (e.g. ``target``).

        Returns
        -------
        X_resampled, y_resampled
            The selected rows, in the order of ``indices_``.  Their weights
            are ``weights_`` (same order): pass them as ``sample_weight`` to an
            estimator that takes one.  imbalanced-learn's protocol has no slot
            for weights, so inside an ``imblearn.pipeline.Pipeline`` the next
            step trains unweighted.
        """
        self.fit(X if gradients is None else gradients, y, **fit_params)
        return (take_rows(X, self.indices_, self.n_samples_fit_),
                take_rows(y, self.indices_, self.n_samples_fit_))

    def select(self, context):  # pragma: no cover - interface
        """Choose a subset for one round of a training run.

        Parameters
        ----------
        context : SelectionContext

        Returns
        -------
        Selection
        """
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ``transform`` keeps the dtype of what it gets (the rows it selects); it is not a
        # TransformerMixin (it returns fewer rows), but scikit-learn's checks need the tags
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags
