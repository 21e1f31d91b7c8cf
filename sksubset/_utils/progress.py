"""Progress bars shown only where a person watches, as scikit-learn and skorch users expect.

A fit shows a bar over its epochs when all of these hold:

* it was asked for (``verbose > 0``);
* a person watches: standard error is a terminal or the code runs in a
  Jupyter kernel, and the fit is not one of the many fits of a scikit-learn
  search or cross-validation (``GridSearchCV``, ``cross_val_score``, ...);
* the net prints no epoch table of its own: a skorch net with
  ``verbose > 0`` prints one line per epoch (with the ``phase`` and
  ``subset_size`` columns sksubset records), which a bar would break up.

``verbose >= 2`` shows the bar wherever the output goes (a log file, inside a
search), but still never together with the net's table.
"""

import sys

from tqdm.auto import tqdm

__all__ = ["interactive", "inside_model_selection", "epoch_bar"]


def _in_notebook():
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def interactive():
    """Whether a person watches the output: stderr is a terminal, or a Jupyter kernel runs."""
    try:
        tty = sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        tty = False
    return tty or _in_notebook()


def inside_model_selection():
    """Whether the caller runs inside scikit-learn's model selection (a search, a CV loop).

    True when a frame of the call stack belongs to ``sklearn.model_selection``,
    also in the worker processes of ``n_jobs > 1``.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("sklearn.model_selection"):
            return True
        frame = frame.f_back
    return False


def epoch_bar(total, verbose, net_verbose=0, desc="sksubset"):
    """A tqdm bar over ``total`` epochs, or None where no bar belongs (see the module's text).

    Parameters
    ----------
    total : int
        Epochs the bar counts.
    verbose : int
        The estimator's ``verbose``: 0 never, 1 where a person watches, 2 or
        more wherever the output goes.
    net_verbose : int, default=0
        The skorch net's ``verbose``; above 0 it prints its own epoch table,
        and no bar is shown.
    desc : str, default="sksubset"
        Label of the bar.

    Returns
    -------
    tqdm.tqdm or None
    """
    if not verbose or net_verbose:
        return None
    if verbose < 2 and (not interactive() or inside_model_selection()):
        return None
    return tqdm(total=total, desc=desc, unit="epoch", leave=False)
