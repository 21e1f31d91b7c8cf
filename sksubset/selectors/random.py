"""RANDOM and RS2: uniform subsets, the baselines of every subset-selection paper.

Each round draws ``k`` distinct examples uniformly at random, each standing
for ``n / k`` examples (equal weights).  Inside
:class:`~sksubset.SubsetTrainingClassifier` the subset is redrawn every ``R``
epochs like any other selection.  With ``sampling="independent"`` the rounds
are independent draws (the GRAD-MATCH paper's RANDOM baseline); with
``sampling="cycle"`` they are drawn without replacement across rounds (RS2,
Okanovic et al., ICLR 2024, usually with ``R=1``): consecutive slices of a
random permutation, so that the rounds cycle through every example
(:mod:`sksubset._utils.sampling`).  No gradient is ever computed, so a round
costs no forward pass.
"""

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import StrOptions

from .._utils.budget import BUDGET_CONSTRAINTS, resolve_budget
from .._utils.sampling import cyclic_draw, cyclic_sampler
from ..gradients import LastLayer
from ._base import BaseSelector, Selection

__all__ = ["RandomSelector"]


def _n_rows(X):
    """Number of rows of a 2-D array-like, sparse matrix, tensor or LastLayer (values unread)."""
    if isinstance(X, LastLayer):
        if len(X) < 1:
            raise ValueError("X must have at least one row; got 0.")
        return X.shape
    if isinstance(X, torch.Tensor):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {tuple(X.shape)}.")
        if X.shape[0] < 1:
            raise ValueError("X must have at least one row; got 0.")
        return X.shape[0], X.shape[1]
    X = check_array(X, accept_sparse=True, dtype=None, ensure_all_finite=False,
                    ensure_min_features=0, input_name="X")
    return X.shape[0], X.shape[1]


class RandomSelector(BaseSelector):
    """Uniformly random subset without replacement, equal weights ``n / k``.

    Parameters
    ----------
    budget : float in (0, 1] or int >= 1, default=0.1
        Fraction of the rows, or number of rows, to select.
    sampling : {"independent", "cycle"}, default="independent"
        How the rounds of a training run relate: independent uniform draws,
        or RS2's draws without replacement across rounds, in which every
        example is used once before any is used twice (after ``m`` rounds
        each example has been drawn ``floor(m k / n)`` or ``ceil(m k / n)``
        times).  RS2 is meant to reselect every epoch:
        ``SubsetTrainingClassifier(net, RandomSelector(sampling="cycle"),
        R=1, kappa=0)``.  :meth:`fit` makes a single draw either way.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of :meth:`fit`.  In a training run the draws come from
        the run's own generator (``context.rng``), so the classifier's
        ``random_state`` governs them.

    Attributes
    ----------
    indices_ : ndarray of shape (n_selected,)
        Selected rows, sorted.
    weights_ : ndarray of shape (n_selected,)
        ``n_samples / n_selected`` each: every selected row stands for as many
        rows (the meaning of :class:`~sksubset.selectors.BaseSelector`).
    n_features_in_ : int
        Columns of the matrix given to ``fit`` (its values are never read).
    n_samples_fit_ : int

    Notes
    -----
    Only the number of rows of ``X`` matters: its values are never read, so
    missing or infinite values are allowed.  The selection ignores
    ``SubsetTrainingClassifier(per_batch=True)``: RANDOM draws examples.

    Examples
    --------
    >>> import numpy as np
    >>> from sksubset.selectors.random import RandomSelector
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> sel = RandomSelector(budget=0.3, random_state=0).fit(X)
    >>> sel.indices_.shape, sel.weights_.round(3).tolist()
    ((3,), [3.333, 3.333, 3.333])
    >>> sel.transform(X).shape
    (3, 2)
    """

    uses_last_layer = False

    _parameter_constraints = {
        "budget": BUDGET_CONSTRAINTS,
        "sampling": [StrOptions({"independent", "cycle"})],
        "random_state": ["random_state"],
    }

    def __init__(self, budget=0.1, sampling="independent", random_state=None):
        self.budget = budget
        self.sampling = sampling
        self.random_state = random_state

    @staticmethod
    def _draw(n, k, rng):
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw a random subset of the rows of ``X``.

        Parameters
        ----------
        X : array-like, sparse matrix, torch.Tensor or LastLayer of shape (n_samples, n_features)
            Only its number of rows is used (a ``LastLayer`` of
            :func:`sksubset.gradients.last_layer_gradients` works too).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        n, d = _n_rows(X)
        if y is not None and len(y) != n:
            raise ValueError(f"y has {len(y)} entries but X has {n} rows.")
        k = resolve_budget(self.budget, n)
        self.indices_ = self._draw(n, k, check_random_state(self.random_state))
        self.weights_ = np.full(k, n / k)
        self.n_features_in_ = d
        self.n_samples_fit_ = n
        return self

    def select(self, context):
        """One round: ``context.budget`` examples drawn with ``context.rng``.

        With ``sampling="cycle"`` the draw continues the run's stream of
        permutations (the info records ``cycle``, the permutations begun).
        """
        if self.sampling not in ("independent", "cycle"):
            raise ValueError(f"sampling must be 'independent' or 'cycle'; got {self.sampling!r}.")
        n, k = context.n_samples, min(context.budget, context.n_samples)
        weights = np.full(k, n / k)
        if self.sampling == "independent":
            return Selection(self._draw(n, k, context.rng), weights, {})
        indices = cyclic_draw(self, context, n, k)
        return Selection(indices, weights, {"cycle": cyclic_sampler(self, context).cycles})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        tags.non_deterministic = self.random_state is None
        return tags
