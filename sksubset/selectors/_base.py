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
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from .._utils.validation import check_finite, resolve_device
from ..gradients import LastLayer

__all__ = ["BaseSelector", "Selection", "SelectionContext", "expand_batches", "group_rows",
           "check_last_layer", "check_holdout", "take_rows"]

def group_rows(y):
    """Classes of ``y`` and the rows of each."""
    classes, inverse = np.unique(y, return_inverse=True)
    return classes, [np.flatnonzero(inverse == c) for c in range(len(classes))]




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
    """What a selector returns from one round: rows, weights and a record."""

    indices: np.ndarray
    weights: np.ndarray
    info: dict = field(default_factory=dict)


class BaseSelector(BaseEstimator):
    """Base class of the selectors (see the module docstring)."""

    #: whether the selector decides itself when to reselect
    adaptive = False
    #: whether ``select`` has a per-batch variant (``SubsetTrainingClassifier(per_batch=True)``)
    supports_per_batch = False

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
        tags.transformer_tags = None
        return tags


def expand_batches(batches, chosen, weights):
    """Examples of the chosen mini-batches, each weighted by its batch's weight."""
    idx = [np.asarray(batches[b]) for b in chosen]
    w = [np.full(len(i), wb, dtype=np.float64) for i, wb in zip(idx, weights)]
    if not idx:
        return np.empty(0, dtype=np.int64), np.empty(0)
    return np.concatenate(idx).astype(np.int64), np.concatenate(w)


# ---------------------------------------------------------------------------
# Selecting on a net's last-layer gradients given by their factors, and
# returning rows of what was selected on.  Kept apart from the dense-matrix
# checks above.
# ---------------------------------------------------------------------------
def check_last_layer(G, y, device, dtype):
    """Validate a :class:`~sksubset.gradients.LastLayer` given to ``fit``.

    Returns ``(ll, y)``: the factors and logits as finite ``dtype`` tensors on
    ``device`` (labels as long), and the labels as an ndarray.  ``y`` may be
    ``None`` (the labels the gradients were computed with are used); when
    given it must be those labels, since each row's gradient depends on its
    label.
    """
    if len(G) < 1:
        raise ValueError("G (last-layer gradients) must have at least one row.")
    for name in ("E", "Hb", "Z"):
        if getattr(G, name).ndim != 2 or len(getattr(G, name)) != len(G):
            raise ValueError(f"G.{name} must be 2-D with one row per example; got shape "
                             f"{tuple(getattr(G, name).shape)}.")
    ll = LastLayer(*(check_finite(getattr(G, name).detach().to(device=device, dtype=dtype),
                                   f"G.{name} (last-layer gradients)")
                     for name in ("E", "Hb", "Z")), G.y.to(device=device, dtype=torch.long))
    labels = ll.y.cpu().numpy()
    if y is not None:
        y = np.asarray(y)
        if y.shape != labels.shape or not np.array_equal(y, labels):
            raise ValueError("y must be the labels the last-layer gradients were computed "
                             "with (or None to use them).")
    return ll, labels


def check_holdout(target, ll, device, dtype):
    """Held-out last-layer gradients given as ``target``, as a :class:`LastLayer` like ``ll``.

    ``ll`` is what ``fit`` got as ``G`` (None when it got a matrix, which
    cannot be matched to held-out factors: TypeError).
    """
    if ll is None:
        raise TypeError("target may be a LastLayer (held-out last-layer gradients) only when "
                        "G is one too; pass a dense target with a dense G.")
    valid = check_last_layer(target, None, device, dtype)[0]
    if valid.E.shape[1] != ll.E.shape[1] or valid.Hb.shape[1] != ll.Hb.shape[1]:
        raise ValueError(f"target has last-layer gradients of shape {valid.shape[1:]} per row "
                         f"but G has {ll.shape[1:]}; compute both with the same net.")
    return valid


def take_rows(X, indices, n_rows):
    """Rows ``indices`` of ``X`` (array-like, tensor, LastLayer or torch Dataset).

    ``X`` must have ``n_rows`` rows (the rows the selector was fitted on).
    """
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    if n != n_rows:
        raise ValueError(f"X has {n} rows but the selector was fitted on {n_rows}.")
    if isinstance(X, torch.utils.data.Dataset):
        return torch.utils.data.Subset(X, [int(i) for i in indices])
    if isinstance(X, (torch.Tensor, LastLayer)):
        return X[torch.as_tensor(indices, device=X.device)]
    return _safe_indexing(X, indices)
