"""Regression experiments: the data sets, the regressor nets and the scores of a run.

Two data sets, both available offline:

* ``"diabetes"``: scikit-learn's bundled diabetes data (442 patients, 10
  features, a disease-progression score), the smoke-test set;
* ``"friedman"``: 60 000 rows of Friedman's regression problem #1
  (:func:`sklearn.datasets.make_friedman1`: ``y = 10 sin(pi x1 x2) + 20 (x3 -
  0.5)^2 + 10 x4 + 5 x5`` plus Gaussian noise of standard deviation 1, with 5
  more uninformative features, uniform on ``[0, 1]``), seed 0, split 50 000 /
  10 000: the larger set.

Inputs and targets are standardized with the training part's mean and standard
deviation (so a learning rate means the same on both; RMSE is in units of the
training targets' standard deviation).  A run on a regression
set trains a :class:`~sksubset.SubsetTrainingRegressor` (or, for the plain
epochs of the frontier, a :class:`skorch.NeuralNetRegressor`) with the squared
loss, and records ``test_r2`` (its primary score, where a classification run
has ``test_accuracy``) and ``test_rmse``.
"""

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

__all__ = ["REGRESSION_DATASETS", "FRIEDMAN_SIZES", "load_diabetes_split", "load_friedman",
           "is_regression", "regression_scores", "score_of", "test_scores", "constant_scores",
           "n_outputs"]

#: the data sets of regression experiments
REGRESSION_DATASETS = ("diabetes", "friedman")

#: training and test rows of the ``"friedman"`` set
FRIEDMAN_SIZES = (50_000, 10_000)


def _standardized(X_train, y_train, X_test, y_test):
    """Inputs and targets standardized with the training part's statistics, float32."""
    mu, sd = X_train.mean(0), X_train.std(0)
    sd[sd == 0] = 1.0
    ym, ys = float(y_train.mean()), float(y_train.std())
    out = [((X - mu) / sd).astype(np.float32) for X in (X_train, X_test)]
    return (out[0], ((y_train - ym) / ys).astype(np.float32), out[1],
            ((y_test - ym) / ys).astype(np.float32))


def load_diabetes_split(test_size=0.3, random_state=0):
    """scikit-learn's bundled diabetes data, split and standardized.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        float32; targets 1-D.
    """
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size,
                                                        random_state=random_state)
    return _standardized(X_train, y_train, X_test, y_test)


def load_friedman(n_train=FRIEDMAN_SIZES[0], n_test=FRIEDMAN_SIZES[1], seed=0):
    """Friedman #1 (module docstring): ``n_train + n_test`` rows drawn with ``seed``.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
    """
    X, y = make_friedman1(n_samples=n_train + n_test, n_features=10, noise=1.0,
                          random_state=seed)
    return _standardized(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def is_regression(y):
    """Whether the targets ``y`` are a regression's (real-valued)."""
    return np.asarray(y).dtype.kind == "f"


def regression_scores(y_true, y_pred):
    """``test_r2`` and ``test_rmse`` of predictions ``y_pred``."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(y_true.shape)
    rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
    return {"test_r2": float(r2_score(y_true, y_pred)), "test_rmse": rmse}


def n_outputs(y):
    """The net's output width for targets ``y``: classes, or a regression's columns."""
    if is_regression(y):
        return 1 if np.ndim(y) == 1 else np.shape(y)[1]
    return len(np.unique(y))


def score_of(record):
    """A run's primary score: ``test_r2`` on a regression set, else ``test_accuracy``."""
    return record["test_r2"] if "test_r2" in record else record["test_accuracy"]


def test_scores(estimator, X_test, y_test):
    """Test scores of a fitted estimator or net: ``test_accuracy``, or on a regression set
    ``test_r2`` and ``test_rmse``."""
    y_pred = estimator.predict(X_test)
    if is_regression(y_test):
        return regression_scores(y_test, y_pred)
    return {"test_accuracy": float(np.mean(y_pred == y_test))}


def constant_scores(y_test):
    """The scores of a constant prediction, a diverged run's: the most frequent test label,
    or the training targets' mean (0, standardized)."""
    if is_regression(y_test):
        return regression_scores(y_test, np.zeros_like(y_test))
    return {"test_accuracy": float(np.bincount(y_test).max() / len(y_test))}
