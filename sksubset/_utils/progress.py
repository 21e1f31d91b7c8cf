"""What a fit shows of its progress, by one documented rule.

A fit at ``verbose >= 1`` whose net prints no epoch table of its own (a
skorch net with ``verbose > 0`` prints one line per epoch, with the ``phase``
and ``subset_size`` columns sksubset records) reports on standard error:

* first, one line of its schedule: the epochs it trains out of those
  scheduled, and how many the warm start paid for
  (``sksubset: 166 trained of 300 scheduled epochs (the warm start paid for
  134): 16 warm on all 1257 rows, 150 on subsets of 126 rows``);
* while it trains, where a person watches (standard error is a terminal, or
  the code runs in a Jupyter kernel: :func:`interactive`), or at ``verbose >=
  2`` wherever the output goes: a bar whose length is the run's cost in
  full-data epochs, so that its time estimate holds across warm and subset
  epochs, with the epochs trained, the phase (``warm``, ``select``,
  ``subset``) and the latest training loss; elsewhere (a log file, a captured
  stream) at ``verbose=1``: one line per selection round;
* last, one summary line: epochs trained, selection rounds, their share of
  the run's time and the run's total time.

The estimators add one rule of their own: at ``verbose=1`` a clone made by
:func:`sklearn.base.clone`, which is what scikit-learn's searches and
cross-validation fit, shows nothing (``SubsetTrainingClassifier``'s
``verbose``).  Nothing inspects the caller.
"""

import sys

from tqdm.auto import tqdm

__all__ = ["interactive", "progress_mode", "EpochBar"]

#: the bar: percentage of the run's cost, time spent and left, then the status
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"


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


def progress_mode(verbose, net_verbose=0):
    """What a fit with this ``verbose`` (and its net's) shows (the module's rule): ``"bar"``,
    ``"log"`` (plain lines) or None."""
    if not verbose or net_verbose:
        return None
    return "bar" if verbose >= 2 or interactive() else "log"


def plan_line(schedule, subset_size, n_rows, desc="sksubset"):
    """The line that says, once, what a run trains (see the module docstring)."""
    warm, subset = schedule.warm_epochs, schedule.subset_epochs
    parts = []
    if warm:
        parts.append(f"{warm} warm on all {n_rows} rows")
    if subset or not warm:
        parts.append(f"{subset} on subsets of {subset_size} rows")
    if schedule.skipped_epochs:
        head = (f"{schedule.n_trained} trained of {schedule.n_epochs} scheduled epochs (the "
                f"warm start paid for {schedule.skipped_epochs})")
    else:
        head = f"{schedule.n_trained} epochs"
    return f"{desc}: {head}: {', '.join(parts)}"


def _loss(loss):
    return "" if loss is None else f", training loss {loss:.4g}"


class EpochBar:
    """The progress of one run, as :func:`progress_mode` says: a bar, log lines, or nothing.

    Parameters
    ----------
    schedule : sksubset.schedule.Schedule
        The run's layout.
    subset_size : int
        Rows of each subset.
    n_rows : int
        Rows of the pool (a warm epoch's).
    verbose : int
        The estimator's (see :func:`progress_mode`).
    net_verbose : int, default=0
        The skorch net's ``verbose``; above 0 it prints its own epoch table.
    desc : str, default="sksubset"
        Label of the bar and the lines.
    """

    def __init__(self, schedule, subset_size, n_rows, verbose, net_verbose=0, desc="sksubset"):
        self.schedule, self.desc = schedule, desc
        self.share = subset_size / max(n_rows, 1)  # a subset epoch's cost in full epochs
        self.mode = progress_mode(verbose, net_verbose)
        self.epoch, self.warm, self.loss, self.bar = 0, 0, None, None
        if self.mode is None:
            return
        self._write(plan_line(schedule, subset_size, n_rows, desc))
        if self.mode == "bar":
            total = schedule.warm_epochs + schedule.subset_epochs * self.share
            self.bar = tqdm(total=max(total, 1e-9), desc=desc, leave=False,
                            bar_format=_BAR_FORMAT, file=sys.stderr)

    def _write(self, line):
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def _status(self, text):
        return f"{self.epoch}/{self.schedule.n_trained} epochs, {text}"

    def status(self, text):
        """Show ``text`` (a phase) next to the bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(self._status(text))

    def advance(self, phase, loss=None):
        """One more epoch done: its ``phase`` and training ``loss`` (None: unknown)."""
        self.epoch += 1
        self.warm += phase == "warm"
        self.loss = None if loss is None else float(loss)
        if self.bar is not None:
            self.bar.set_postfix_str(self._status(phase + _loss(self.loss)), refresh=False)
            self.bar.update(1.0 if phase == "warm" else self.share)

    def selected(self, record):
        """A selection round done (its ``selection_history_`` record): a line in a log."""
        if self.mode != "log":
            return
        error = record.get("gradient_error")
        self._write(f"{self.desc}: selection before epoch {self.epoch + 1} of "
                    f"{self.schedule.n_trained} ({record.get('reason')}): "
                    f"{len(record['indices'])} rows"
                    + ("" if error is None else f", gradient error {float(error):.3g}")
                    + f", {record.get('seconds', 0.0):.2f} s" + _loss(self.loss))

    def close(self):
        """Take the bar away (a run that ends, or fails)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def summary(self, timing, n_rounds):
        """The run's last line, after :meth:`close`: epochs trained, selection rounds, their
        share of the time and the total (``timing``: the run's ``timing_``)."""
        if self.mode is None:
            return
        total = timing.get("total", 0.0)
        selecting = timing.get("gradients", 0.0) + timing.get("solver", 0.0)
        share = selecting / total if total > 0 else 0.0
        self._write(f"{self.desc}: done: {self.epoch} epochs trained ({self.warm} warm, "
                    f"{self.epoch - self.warm} on subsets) of {self.schedule.n_epochs} scheduled, "
                    f"{n_rounds} selection round{'' if n_rounds == 1 else 's'} "
                    f"({100 * share:.0f}% of the time), {total:.1f} s" + _loss(self.loss))
