"""Where the runs of an experiment are trained: here, one after another, or on a Dask cluster.

An *executor* has one method, ``map(job, specs)``: it trains every spec and
yields ``(spec, record)`` pairs as runs finish.  What a run *is* stays with
the *job* (:class:`sksubset.experiments.runner.RunJob`), which the executor
only calls:

* ``job.prepare(data)``: the data ready for training (loaded when ``data``
  is None, and warmed up), once per process;
* ``job(spec, data)``: train one run, save its record, return it;
* ``job.key(spec)`` and ``job.data_key``: names of a run's task and of the
  prepared data, for executors that share work between processes.

:class:`LocalExecutor` runs the job in this process;
:class:`~sksubset.experiments.cluster.DaskExecutor` sends it to Dask
workers.  :func:`make_executor` chooses from the settings.
"""

from .cluster import DaskExecutor

__all__ = ["LocalExecutor", "DaskExecutor", "make_executor"]


class LocalExecutor:
    """Train the runs in this process, one after another, in the order given.

    Parameters
    ----------
    data : tuple, optional
        ``X_train, y_train, X_test, y_test`` already in memory; when None the
        job loads them.
    """

    def __init__(self, data=None):
        self.data = data

    def map(self, job, specs):
        """Yield ``(spec, record)`` for each spec, in order (nothing is prepared for none)."""
        specs = list(specs)
        if not specs:
            return
        data = job.prepare(self.data)
        for spec in specs:
            yield spec, job(spec, data)


def make_executor(cfg, data=None):
    """The executor of a resolved config: Dask when ``cfg.scheduler`` or ``cfg.workers`` is
    set (:class:`~sksubset.experiments.cluster.DaskExecutor`), else local with ``data``."""
    if cfg.scheduler or cfg.workers:
        return DaskExecutor(scheduler=cfg.scheduler, workers=cfg.workers)
    return LocalExecutor(data)
