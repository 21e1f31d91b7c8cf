"""Progress bars shown where a person watches, by one documented rule.

A fit shows a bar over its epochs when:

* ``verbose >= 1`` and a person watches: standard error is a terminal, or the
  code runs in a Jupyter kernel (:func:`interactive`); or ``verbose >= 2``,
  wherever the output goes (a log file, a captured stream);
* and the net prints no epoch table of its own: a skorch net with
  ``verbose > 0`` prints one line per epoch (with the ``phase`` and
  ``subset_size`` columns sksubset records), which a bar would break up.

The estimators add one rule of their own: at ``verbose=1`` a clone made by
:func:`sklearn.base.clone`, which is what scikit-learn's searches and
cross-validation fit, shows no bar (``SubsetTrainingClassifier``'s
``verbose``).  Nothing inspects the caller.
"""

import sys

from tqdm.auto import tqdm

__all__ = ["interactive", "shows_progress", "EpochBar"]


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


def shows_progress(verbose, net_verbose=0):
    """Whether a fit with this ``verbose`` (and its net's) shows a bar (the module's rule)."""
    if not verbose or net_verbose:
        return False
    return verbose >= 2 or interactive()


class EpochBar:
    """A bar over ``total`` epochs with a status text, or nothing where no bar belongs.

    Parameters
    ----------
    total : int
        Epochs the bar counts.
    verbose : int
        The estimator's ``verbose`` (see :func:`shows_progress`).
    net_verbose : int, default=0
        The skorch net's ``verbose``; above 0 it prints its own epoch table.
    desc : str, default="sksubset"
        Label of the bar.
    """

    def __init__(self, total, verbose, net_verbose=0, desc="sksubset"):
        self.bar = (tqdm(total=total, desc=desc, unit="epoch", leave=False)
                    if shows_progress(verbose, net_verbose) else None)

    def status(self, text):
        """Show ``text`` next to the bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def advance(self, text):
        """One more epoch done, ``text`` its status."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update()

    def close(self):
        if self.bar is not None:
            self.bar.close()
