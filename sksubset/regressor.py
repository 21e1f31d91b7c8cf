"""SubsetTrainingRegressor: adaptive subset training of a skorch regressor (Algorithm 1).

The twin of :class:`~sksubset.SubsetTrainingClassifier` around a
:class:`skorch.NeuralNetRegressor`: the same parameters and defaults, the same
training run (``sksubset/_training/_run.py``), with a regression loss whose
last-layer gradient has a closed form (``MSELoss``, ``L1Loss``,
``SmoothL1Loss``, ``HuberLoss``; for the squared loss ``e = 2 (yhat - y) / d``
times ``[1, h]``).  A regressor has no classes: the selectors see its rows as
one group.
"""

import numpy as np
from sklearn.base import RegressorMixin, is_classifier
from sklearn.utils._param_validation import HasMethods
from skorch import NeuralNetRegressor

from ._estimator import BaseSubsetTraining
from ._training._loss import weighted_criterion
from .data import dataset_labels, read_training_data

__all__ = ["SubsetTrainingRegressor"]


class SubsetTrainingRegressor(RegressorMixin, BaseSubsetTraining):
    """Train a skorch regressor on adaptively selected weighted subsets.

    Everything but the loss and the default selector is
    :class:`~sksubset.SubsetTrainingClassifier`'s:
    the epoch layout (``T = net.max_epochs`` epochs of budget, a warm start of
    ``floor(kappa T)``, subsets of ``k = budget * n`` examples reselected every
    ``R`` epochs), the weighting, the inputs (arrays, a torch Dataset, a
    SliceDataset), the checks, the data-parallel rounds, the progress bar and
    the fitted attributes.  A selection round matches the net's own last-layer
    gradients of the regression loss, which training mostly computes itself
    (see the classifier).  There are no classes: every selector treats the
    rows as one group (GRAD-MATCH matches the gradient of the whole pool, CRAIG
    and CREST cluster all rows together), and GLISTER's validation loss and
    CREST's quadratic model are of the net's own loss.  The default selector
    draws random subsets (RANDOM-WARM): on the regression set measured it beat
    GRAD-MATCH at every budget, at a fraction of its cost
    (:doc:`/benchmarks`, "Regression: Friedman #1"); ``selector="gradmatch"`` selects by
    GRAD-MATCH.

    Parameters
    ----------
    net : skorch.NeuralNetRegressor
        The (unfitted) net to train; it is cloned.  Its module must end in its
        last ``nn.Linear``, one output per column of ``y`` (one for a 1-D
        ``y``); its ``criterion``, given as a class, one of
        ``torch.nn.MSELoss`` (skorch's default), ``torch.nn.L1Loss``,
        ``torch.nn.SmoothL1Loss`` and ``torch.nn.HuberLoss`` (options such as
        ``criterion__beta`` and ``criterion__delta`` are honoured): the losses
        whose last-layer gradients have a closed form.
    %(parameters)s

    %(raises)s

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The trained net.
    n_outputs_ : int
        Columns of ``y`` (1 for a 1-D ``y``).  ``predict`` returns
        predictions of ``y``'s shape: 1-D for a 1-D ``y``, 2-D for a 2-D one
        (``(n_samples, 1)`` too), as skorch's net does.
    %(attributes)s

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from sklearn.datasets import load_diabetes
    >>> from sksubset import SubsetTrainingRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    >>> module = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(),
    ...                              torch.nn.Linear(32, 1))
    >>> net = NeuralNetRegressor(module, max_epochs=40, lr=0.05, batch_size=32,
    ...                          train_split=None, verbose=0)
    >>> reg = SubsetTrainingRegressor(net, budget=0.3, R=5, random_state=0, verbose=0)
    >>> reg.fit(X, y).score(X, y) > 0.4
    True
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {**BaseSubsetTraining._parameter_constraints,
                              "net": [HasMethods(["fit", "predict"])]}

    _regression = True

    def _check_net(self):
        if not isinstance(self.net, NeuralNetRegressor):
            raise TypeError(f"net must be a skorch.NeuralNetRegressor; got "
                            f"{type(self.net).__name__}"
                            + (" (use SubsetTrainingClassifier for a classifier)."
                               if is_classifier(self.net) else "."))
        weighted_criterion(self.net.criterion, regression=True)  # fail early on the loss

    def _read(self, X, y):
        return read_training_data(self, X, y, multi_output=True)

    def _targets(self, y):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                example = y.reshape(-1)[0]
                raise ValueError(
                    f"y must hold real-valued targets; got values such as {example!r} "
                    f"(dtype {y.dtype}), class labels? Use SubsetTrainingClassifier for "
                    f"classes.") from None
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values; the targets must be finite.")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs); got "
                             f"shape {y.shape}.")
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._y_1d = y.ndim == 1  # predict returns y's shape, as skorch and scikit-learn do
        return y.reshape(len(y), -1).astype(np.float32)

    def _n_outputs(self):
        return self.n_outputs_, "target column"

    # -- prediction -------------------------------------------------------
    def predict(self, X):
        """Predictions of the trained net.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Of the shape of the ``y`` given to ``fit``: 1-D for a 1-D ``y``,
            ``(n_samples, 1)`` for a ``y`` of shape ``(n_samples, 1)``.
        """
        X = self._check_X(X)
        y_pred = np.asarray(self.net_.predict(X))
        one_d = getattr(self, "_y_1d", self.n_outputs_ == 1)
        return y_pred.reshape(len(y_pred)) if one_d else y_pred

    def score(self, X, y=None, sample_weight=None):
        """Coefficient of determination R^2 on ``(X, y)``; ``y=None`` with a Dataset reads
        its targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), torch Dataset or SliceDataset
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float
        """
        return super().score(X, dataset_labels(X) if y is None else y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
