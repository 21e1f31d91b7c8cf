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

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Callable, Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..gradients import LastLayer
from ..omp import _resolve_device

__all__ = ["BaseSelector", "Selection", "SelectionContext", "resolve_budget",
           "split_budget", "expand_batches", "n_batches_for", "check_matrix", "check_target",
           "check_labels",
           "group_rows", "DTYPES", "check_last_layer", "check_holdout",
           "take_rows"]

BUDGET_CONSTRAINTS = [Interval(Real, 0, 1, closed="right"), Interval(Integral, 1, None, closed="left")]

#: values of the selectors' ``dtype`` parameter
DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def _as_tensor(x, name, dtype=None):
    """``x`` as a real floating tensor; numpy input is read straight into ``dtype`` (default
    float64), without a copy when it is a C-contiguous array of that dtype already."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        complex_ = t.is_complex()
    else:
        try:
            a = np.asarray(x)
            complex_ = a.dtype.kind == "c"
            if not complex_:
                a = np.ascontiguousarray(a, dtype=_NUMPY_DTYPES.get(dtype, np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numeric array or torch.Tensor, got "
                            f"{type(x).__name__}") from exc
        t = None if complex_ else torch.from_numpy(a)
    if complex_:
        raise TypeError(f"{name} must be real; got complex values.")
    return t if t.is_floating_point() else t.to(torch.float64)


def _check_finite(t, name):
    # in slices: a mask of the whole tensor would cost more memory than a float32 copy of it
    if not all(bool(torch.isfinite(c).all()) for c in t.reshape(-1).split(1 << 20)):
        raise ValueError(f"{name} contains NaN or infinite values; it must be finite.")
    return t


def check_matrix(G, device, dtype, name="G"):
    """``G`` as a finite 2-D float tensor on ``device`` (clear errors otherwise)."""
    Gt = _as_tensor(G, name, dtype)
    if Gt.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape "
                         f"{tuple(Gt.shape)}.")
    if Gt.shape[0] < 1 or Gt.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column; got shape "
                         f"{tuple(Gt.shape)}.")
    return _check_finite(Gt.to(device=device, dtype=dtype), name)


def check_target(target, shape, device, dtype, name="target"):
    """``target`` of the given ``shape`` as a finite ``(n_problems, d)`` tensor."""
    t = _as_tensor(target, name, dtype)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {tuple(t.shape)}.")
    return _check_finite(t.to(device=device, dtype=dtype).reshape(-1, shape[-1]), name)


def check_labels(y, n, required):
    """``y`` as an array of shape ``(n,)`` (or None when not given and not ``required``)."""
    if y is None:
        if required:
            raise ValueError("per_class=True requires y (the class of each row of G).")
        return None
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match G; got {y.shape}.")
    return y


def group_rows(y):
    """Classes of ``y`` and the rows of each."""
    classes, inverse = np.unique(y, return_inverse=True)
    return classes, [np.flatnonzero(inverse == c) for c in range(len(classes))]




def resolve_budget(budget, n):
    """Turn a budget (fraction in (0, 1] or count) into a number of examples.

    A fraction gives ``max(1, round(budget * n))``; a count must not exceed
    ``n``.  Booleans are refused (``True`` is no budget).
    """
    if isinstance(budget, (bool, np.bool_)):
        raise TypeError(f"budget must be a fraction in (0, 1] or a count >= 1; got the "
                        f"boolean {budget!r}.")
    if isinstance(budget, Integral):
        if budget > n:
            raise ValueError(f"budget={budget} is larger than the number of samples ({n}); "
                             "pass a count of at most n_samples or a fraction in (0, 1].")
        return int(budget)
    return max(1, int(round(float(budget) * n)))


def split_budget(k, sizes):
    """Split ``k`` over groups in proportion to ``sizes`` (largest remainder).

    The parts sum to ``min(k, sum(sizes))`` and none exceeds its group's size.
    When ``k`` is at least the number of non-empty groups, each of them gets
    at least one: a group left at zero takes one from the largest part, so
    that a class of one or two examples still has a slot.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    k = min(int(k), total)
    quota = k * sizes / max(total, 1)
    parts = np.minimum(np.floor(quota).astype(np.int64), sizes)
    order = np.argsort(-(quota - parts), kind="stable")
    i = 0
    while parts.sum() < k:
        g = order[i % len(order)]
        if parts[g] < sizes[g]:
            parts[g] += 1
        i += 1
    if k >= np.count_nonzero(sizes):
        for g in np.flatnonzero((parts == 0) & (sizes > 0)):
            parts[np.argmax(parts)] -= 1
            parts[g] += 1
    return parts


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
    valid_fn: Optional[Callable] = None
    params_fn: Optional[Callable] = None
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
            device = _resolve_device(self.device, *arrays)
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


def n_batches_for(budget, batch_size):
    """Number of mini-batches to select for a budget of examples (CORDS: ceil)."""
    return max(1, math.ceil(budget / batch_size))


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
    ll = LastLayer(*(_check_finite(getattr(G, name).detach().to(device=device, dtype=dtype),
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
