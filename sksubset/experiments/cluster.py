"""Experiment runs on a Dask cluster: one task per run, records on the shared output folder.

``sksubset-bench --scheduler ADDRESS`` (a running ``dask scheduler``) or
``--scheduler local --workers N`` (a ``distributed.LocalCluster`` of ``N``
single-threaded worker processes on this machine) sends every run whose record is not on disk
to the cluster instead of training it here.  A worker trains the run, writes
its record under ``<out>/runs`` exactly as a local run does, and returns it;
the report is then computed here from the records, so the table is the one a
local run gives.

A run is never trained twice:

* runs whose record exists are not submitted (resuming an interrupted
  experiment works as locally);
* a run's task key is derived from the output folder and the run id
  (``job.key(spec)``), so two runners sending the same run to one scheduler
  share one task;
* a worker reads the record instead of training when it appears meanwhile.

Workers need the data (Fashion-MNIST or ``.npz`` path, read on the worker)
and the output folder at the same paths as this machine, e.g. a shared file
system.  Requires the ``dask`` extra: ``pip install sksubset[dask]``.  This
module knows nothing of training: it runs the job it is given
(:mod:`sksubset.experiments.executors`).
"""

from contextlib import contextmanager, nullcontext

__all__ = ["DaskExecutor", "connect"]

#: per worker process: prepared data, keyed by ``job.data_key``
_PREPARED = {}


def _require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("Running on a Dask cluster (--scheduler) needs "
                          "dask[distributed]: pip install sksubset[dask]") from exc
    return distributed


@contextmanager
def connect(scheduler=None, workers=None):
    """A ``distributed.Client`` of ``scheduler``, or of a new local cluster of ``workers``.

    The local cluster has single-threaded worker processes (one run at a time
    each) and no dashboard; client and cluster are closed on exit.

    Raises
    ------
    ImportError
        Naming the extra to install, when ``distributed`` is missing.
    """
    distributed = _require_distributed()
    if scheduler:
        with distributed.Client(scheduler) as client:
            yield client
        return
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def _run_on_worker(job, spec):
    """A Dask task: ``job(spec, data)`` with the data prepared once per worker process."""
    if job.data_key not in _PREPARED:
        _PREPARED[job.data_key] = job.prepare(None)
    return job(spec, _PREPARED[job.data_key])


class DaskExecutor:
    """Train the runs on a Dask cluster, one task per run; results as they finish.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler.
    workers : int, optional
        Without ``scheduler``: start a local cluster of this many single-threaded worker
        processes.
    client : distributed.Client, optional
        Use this client instead of connecting (``scheduler`` and ``workers``
        are then ignored).
    """

    def __init__(self, scheduler=None, workers=None, client=None):
        self.scheduler = scheduler
        self.workers = workers
        self.client = client

    def map(self, job, specs):
        """Yield ``(spec, record)`` as the cluster finishes runs; a failed run raises here
        (finished ones stay saved) and the other tasks are cancelled."""
        specs = list(specs)
        if not specs:
            return
        distributed = _require_distributed()
        connection = (nullcontext(self.client) if self.client is not None
                      else connect(self.scheduler, self.workers))
        with connection as client:
            futures = {client.submit(_run_on_worker, job, spec, key=job.key(spec), pure=False,
                                     retries=0): spec for spec in specs}
            try:
                for future in distributed.as_completed(futures):
                    yield futures[future], future.result()
            except BaseException:
                client.cancel(list(futures))
                raise
