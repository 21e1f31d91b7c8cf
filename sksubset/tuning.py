"""Tune on subsets, train the chosen configuration on all the data.

A search over a :class:`~sksubset.SubsetTrainingClassifier` or
:class:`~sksubset.SubsetTrainingRegressor` (``GridSearchCV``,
``RandomizedSearchCV``, the halving searches, on one machine or a Dask
cluster) trains every candidate on subsets, which is what makes it cheap; the
configuration it chooses is then trained once on all the data.
:func:`~sksubset.full_data_estimator` builds that estimator::

    search = GridSearchCV(SubsetTrainingClassifier(net, budget=0.1), grid, refit=False)
    search.fit(X, y)
    model = full_data_estimator(search).fit(X, y)

``refit=False`` spares the search its own refit, which would train the chosen
configuration once more on subsets.
"""

from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, validate_params

from ._estimator import BaseSubsetTraining

__all__ = ["full_data_estimator", "FULL_DATA_PARAMS"]

#: what :func:`~sksubset.full_data_estimator` sets on every subset-training estimator: every
#: epoch of the net's ``max_epochs`` trains on all the rows (the whole epoch budget as warm
#: start), none held out
FULL_DATA_PARAMS = {"budget": 1.0, "kappa": 1.0, "valid_size": None}

_SEARCH_SPACES = ("param_grid", "param_distributions")


def _is_search(estimator):
    """Whether ``estimator`` is a hyper-parameter search (fitted or not): it has results, or a
    grid or distributions of parameters (scikit-learn's searches, and dask-ml's)."""
    if hasattr(estimator, "cv_results_"):
        return True
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return any(space in params for space in _SEARCH_SPACES)


def _subset_trainers(estimator):
    """Every subset-training estimator (classifier or regressor) of ``estimator``: itself, or
    one among its parameters at any depth (Pipeline steps, a meta-estimator's ``estimator``),
    each once."""
    found = {}
    candidates = [estimator]
    if hasattr(estimator, "get_params"):
        candidates += list(estimator.get_params(deep=True).values())
    for obj in candidates:
        if isinstance(obj, BaseSubsetTraining):
            found[id(obj)] = obj
    return list(found.values())


def _chosen(search, params):
    """The search's estimator and the parameters to set on it (``params``, else the best)."""
    if not hasattr(search, "cv_results_"):
        raise ValueError(f"{type(search).__name__} is not fitted: fit the search first, then "
                         "pass it to full_data_estimator.")
    if params is None:
        if not hasattr(search, "best_params_"):
            raise ValueError(
                f"{type(search).__name__} chose no configuration (a multi-metric search with "
                "refit=False has no best_params_): pass one as params, e.g. "
                "params=search.cv_results_['params'][i].")
        params = search.best_params_
    return search.estimator, params


@validate_params(
    {"estimator": [HasMethods(["fit", "get_params"])], "params": [dict, None]},
    prefer_skip_nested_validation=True,
)
def full_data_estimator(estimator, params=None):
    """A search's chosen configuration, as an unfitted estimator that trains on all the data.

    Tuning on subsets ranks the candidates by training each one on subsets;
    the chosen configuration is then trained once on every row.  This
    function returns a clone of the search's estimator with the chosen
    parameters set (the net's ``net__*``, a Pipeline's other steps, ...) in
    which every :class:`~sksubset.SubsetTrainingClassifier` (or regressor) trains its net on
    all the rows for all of ``net.max_epochs``: :data:`~sksubset.tuning.FULL_DATA_PARAMS`
    (``budget=1.0``, ``kappa=1.0``: the whole epoch budget is warm start, so
    there is no selection round; ``valid_size=None``: nothing held out).
    The net's own settings (its ``train_split``, callbacks, learning-rate
    schedule) apply as in any run, and ``random_state`` seeds it as before,
    so the same ``random_state`` gives the same trained net.  Its other
    parameters (``selector``, ``R``, ``per_batch``, ``weighting``, tuned or
    not) are kept and have no effect without a selection round.  Parameter
    values that are estimators (a grid over Pipeline steps) are cloned, as a
    search's refit clones them; a chosen step that trains no subsets is kept
    as it is.

    Call ``fit`` on the result, as on any estimator; searches are usually
    run with ``refit=False``, since their own refit would train the chosen
    configuration on subsets once more.

    Parameters
    ----------
    estimator : fitted search or estimator
        A fitted ``GridSearchCV``, ``RandomizedSearchCV``,
        ``HalvingGridSearchCV`` or ``HalvingRandomSearchCV`` (or another
        search with ``estimator``, ``cv_results_`` and ``best_params_``)
        whose estimator holds a :class:`~sksubset.SubsetTrainingClassifier`
        or :class:`~sksubset.SubsetTrainingRegressor`: the estimator itself,
        a Pipeline ending in one, a meta-estimator around one.  Its
        ``estimator`` is cloned and given ``best_params_`` (the resource
        of a halving search over ``budget`` included, which the full-data
        ``budget`` then replaces).  Or such an estimator itself, for
        example to build the full-data search that a search on subsets is
        compared with: ``GridSearchCV(full_data_estimator(clf), grid)``.
    params : dict or None, default=None
        The parameters to set instead of the search's ``best_params_`` (for
        another candidate, ``search.cv_results_["params"][i]``, or for a
        multi-metric search with ``refit=False``, which chooses none); for
        an estimator, parameters to set on its clone (none by default).

    Returns
    -------
    estimator
        Unfitted; of the type of the search's estimator (or of
        ``estimator``).

    Raises
    ------
    TypeError
        When the search's estimator (or ``estimator``) holds no
        :class:`~sksubset.SubsetTrainingClassifier` or
        :class:`~sksubset.SubsetTrainingRegressor`: there is nothing trained
        on subsets to train on all the data.
    ValueError
        When a search is not fitted, or chose no configuration and
        ``params`` is None; when ``params`` names a parameter the estimator
        does not have.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skorch import NeuralNetClassifier
    >>> from sksubset import SubsetTrainingClassifier, full_data_estimator
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype(np.float32)
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
    ...                         torch.nn.Linear(32, 10)),
    ...     criterion=torch.nn.CrossEntropyLoss, max_epochs=10, batch_size=32,
    ...     train_split=None, verbose=0)
    >>> clf = SubsetTrainingClassifier(net, budget=0.2, random_state=0, verbose=0)
    >>> search = GridSearchCV(clf, {"net__lr": [0.05, 0.2]}, cv=2, refit=False).fit(X, y)
    >>> model = full_data_estimator(search)
    >>> model.budget, model.kappa, model.net.lr == search.best_params_["net__lr"]
    (1.0, 1.0, True)
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """
    if _is_search(estimator):
        base, params = _chosen(estimator, params)
    else:
        base = estimator
    if not _subset_trainers(base):
        raise TypeError(
            f"The estimator ({type(base).__name__}) holds no SubsetTrainingClassifier or "
            "SubsetTrainingRegressor: there is nothing trained on subsets to train on all the "
            "data. Pass a search over a subset-training estimator, a Pipeline ending in one, or "
            "such an estimator.")
    full = clone(base)
    if params:
        try:  # cloned as a search's refit does: the search's own parameter objects stay as they are
            full.set_params(**clone(params, safe=False))
        except ValueError as exc:
            raise ValueError(f"params do not fit the estimator: {exc}") from exc
    # the chosen configuration may hold none (a grid over Pipeline steps): it trains on all rows
    for clf in _subset_trainers(full):
        clf.set_params(**FULL_DATA_PARAMS)
        clf._cloned = False  # an estimator for the user to fit: its progress bar as for one built
    return full
