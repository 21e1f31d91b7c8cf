"""SubsetTrainingClassifier: adaptive subset training of a skorch net (Algorithm 1).

``SubsetTrainingClassifier(net, budget=0.1).fit(X, y)`` clones ``net`` (a
:class:`skorch.NeuralNetClassifier`), trains it for a few full-data warm-start
epochs, then on weighted subsets chosen by a selector every ``R`` epochs, all
inside one skorch training run.  The epoch layout is
:func:`sksubset.schedule.make_schedule`; the training loop, GRAD-MATCH's
Algorithm 1, is ``SubsetRun`` in ``sksubset/_training/_run.py``.
"""

import numpy as np
from sklearn.base import ClassifierMixin, is_regressor
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.multiclass import check_classification_targets
from skorch import NeuralNetClassifier

from ._estimator import BaseSubsetTraining, default_selector
from ._training._loss import weighted_criterion
from .data import dataset_labels

__all__ = ["SubsetTrainingClassifier", "default_selector"]


class SubsetTrainingClassifier(ClassifierMixin, BaseSubsetTraining):
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

    What a round costs follows the model, not the training: its forward
    passes and its solver grow with the last layer's width times the pool.
    Measured at 10% on one CPU thread, a round cost 2.17 subset epochs on a
    tabular MLP with two hidden layers of 256, 0.57 on MNIST-1D's small CNN
    and 0.38 on LeNet-5 for Fashion-MNIST (:doc:`/benchmarks`, "Selection's
    cost on three regimes").  So ``R="auto"`` predicts both costs before
    training and keeps selection within ``selection_share`` of the run:
    rounds every 5 subset epochs when they fit, else smaller pools, then
    rarer rounds (never fewer than four); ``spacing_`` records the decision.
    With it, selection took 5.0-5.3% of a Fashion-MNIST run, 4.1-5.1% on
    MNIST-1D and 14-17% on the tabular MLP, whose smallest pool is still
    dear (5% to 30% of the data).

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The (unfitted) net to train; it is cloned.  Its ``criterion`` must be
        ``torch.nn.CrossEntropyLoss`` (module ending in logits) or skorch's
        default ``torch.nn.NLLLoss`` (module ending in softmax), given as a
        class; its options (``criterion__weight``, ``ignore_index``,
        ``label_smoothing``) are honoured.
    %(parameters)s

    %(raises)s

    Attributes
    ----------
    net_ : skorch.NeuralNetClassifier
        The trained net.
    classes_ : ndarray of shape (n_classes,)
    %(attributes)s

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from sksubset import SubsetTrainingClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
    ...                              torch.nn.Linear(32, 10))
    >>> net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, lr=0.1,
    ...                           max_epochs=20, batch_size=32, train_split=None, verbose=0)
    >>> clf = SubsetTrainingClassifier(net, budget=0.2, R=2, random_state=0, verbose=0)
    >>> clf.fit(X / 16, y).score(X / 16, y) > 0.8
    True
    """

    _parameter_constraints = {**BaseSubsetTraining._parameter_constraints,
                              "net": [HasMethods(["fit", "predict_proba"])]}

    def _check_net(self):
        if not isinstance(self.net, NeuralNetClassifier):
            raise TypeError(f"net must be a skorch.NeuralNetClassifier; got "
                            f"{type(self.net).__name__}"
                            + (" (use SubsetTrainingRegressor for a regressor)."
                               if is_regressor(self.net) else "."))
        weighted_criterion(self.net.criterion)  # fail early on an unsupported loss

    def _targets(self, y):
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ValueError(f"y must hold class labels: {exc} (SubsetTrainingRegressor "
                             f"trains on real-valued targets.)") from exc
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"The target y needs samples of at least 2 classes; got "
                             f"{len(self.classes_)} class.")
        return encoder.transform(y).astype(np.int64)

    def _net_params(self):
        return {"classes": list(range(len(self.classes_)))}

    def _n_outputs(self):
        return len(self.classes_), "class"

    # -- prediction -------------------------------------------------------
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
