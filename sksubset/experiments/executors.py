"""Where the runs of an experiment are trained: here, in local worker processes, or on Dask.

An *executor* has one method, ``map(job, specs)``: it trains every spec and
yields ``(spec, record)`` pairs as runs finish.  What a run *is* stays with
the *job* (:class:`sksubset.experiments.runner.RunJob`), which the executor
only calls:

* ``job.prepare(data)``: the data ready for training (loaded when ``data``
  is None, and warmed up), once per process;
* ``job(spec, data)``: train one run, save its record, return it;
* ``job.key(spec)`` and ``job.data_key``: names of a run's task and of the
  prepared data, for executors that share work between processes.

:class:`LocalExecutor` runs the job in this process, one run after another;
:class:`ProcessExecutor` in a pool of local worker processes (the standard
library's ``concurrent.futures.ProcessPoolExecutor``), several runs at
a time; :class:`~sksubset.experiments.cluster.DaskExecutor` sends it to Dask
workers.  :func:`make_executor` chooses from the settings, and
:func:`default_workers` is how many runs train at a time when none is asked
for: as many as the cores hold at the torch threads each run uses.

A run that raises stops the experiment: the error reaches the caller with a
note naming the run (``spec.run_id``), the runs in progress elsewhere are
stopped, and the runs finished before it keep their records.
"""

import multiprocessing
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .cluster import DaskExecutor

__all__ = ["LocalExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
           "default_workers", "available_cores", "LOCAL_CLUSTER"]

#: the ``scheduler`` value that starts a Dask cluster on this machine
LOCAL_CLUSTER = "local"


def available_cores():
    """The cores this process may run on: its CPU affinity where the system tells it
    (``os.sched_getaffinity``), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(threads=None, n_runs=None, cores=None):
    """How many runs to train at a time on this machine: the cores at ``threads`` each.

    Parameters
    ----------
    threads : int, optional
        Torch threads of one run; None (torch's own choice, every core) gives
        one worker.
    n_runs : int, optional
        Runs to train: no more workers than runs.
    cores : int, optional
        Default :func:`available_cores`.

    Returns
    -------
    int
        ``cores // threads``, at most ``n_runs``, at least 1.
    """
    cores = available_cores() if cores is None else cores
    workers = cores // threads if threads else 1
    if n_runs is not None:
        workers = min(workers, n_runs)
    return max(1, workers)


def _name_run(exc, spec):
    """Add a note naming the run to the exception it raised (kept of the same type, so that
    callers handle it as they would the run's own error)."""
    exc.add_note(f"raised by run {getattr(spec, 'run_id', spec)}")


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
            try:
                record = job(spec, data)
            except Exception as exc:
                _name_run(exc, spec)
                raise
            yield spec, record


#: in a worker process of :class:`ProcessExecutor`: the data it was given, and the prepared
#: data keyed by ``job.data_key``
_GIVEN = None
_PREPARED = {}


def _start_worker(data):
    """Initializer of a worker process: keep ``data``; leave Ctrl-C to the parent process,
    which stops the workers itself."""
    global _GIVEN
    _GIVEN = data
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(job, spec):
    """A task of :class:`ProcessExecutor`: ``job(spec, data)``, the data prepared once per
    worker process."""
    if job.data_key not in _PREPARED:
        _PREPARED[job.data_key] = job.prepare(_GIVEN)
    return job(spec, _PREPARED[job.data_key])


def _start_method():
    """``fork`` on Linux (the workers inherit the imported modules and the data instead of
    importing and receiving them), else the platform's default."""
    return "fork" if sys.platform.startswith("linux") else None


def _stop(pool, futures):
    """Cancel what has not started and end the worker processes at once (the runs they
    train are lost; finished runs have saved their records)."""
    for future in futures:
        future.cancel()
    stop = getattr(pool, "terminate_workers", None)  # Python 3.14
    if stop is not None:
        stop()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


class ProcessExecutor:
    """Train the runs in local worker processes, several at a time; results as they finish.

    A pool of ``workers`` processes (``concurrent.futures.ProcessPoolExecutor``)
    takes the runs in the order given; each process prepares the data once
    (``job.prepare``) and trains one run at a time, with the torch threads of the
    job's settings.  A run trains as it would in this process: same seed, same
    record.  Ctrl-C, or a run that raises, stops every worker; the error names
    the run.

    Parameters
    ----------
    workers : int
        Worker processes (at most one per run).
    data : tuple, optional
        ``X_train, y_train, X_test, y_test`` already in memory, handed to every
        worker; when None each worker's job loads them.
    """

    def __init__(self, workers, data=None):
        self.workers = workers
        self.data = data

    def map(self, job, specs):
        """Yield ``(spec, record)`` as the workers finish runs (nothing starts for none)."""
        specs = list(specs)
        if not specs:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(specs)), initializer=_start_worker,
            initargs=(self.data,), mp_context=multiprocessing.get_context(_start_method()))
        futures = {}
        try:
            futures = {pool.submit(_run_in_worker, job, spec): spec for spec in specs}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: specs.index(futures[f])):
                    spec = futures[future]
                    try:
                        record = future.result()
                    except Exception as exc:
                        _name_run(exc, spec)
                        raise
                    yield spec, record
        except BaseException:
            _stop(pool, futures)
            raise
        pool.shutdown(wait=True)


def make_executor(cfg, data=None, n_runs=None):
    """The executor of a resolved config.

    Parameters
    ----------
    cfg : ExperimentConfig
        Resolved: ``scheduler`` and ``workers`` choose.
    data : tuple, optional
        The data in memory, for the local executors.
    n_runs : int, optional
        Runs to train; no more workers than runs.

    Returns
    -------
    executor
        :class:`~sksubset.experiments.cluster.DaskExecutor` on the scheduler at
        ``cfg.scheduler``, or on a local Dask cluster of ``cfg.workers``
        processes when it is :data:`LOCAL_CLUSTER`; else :class:`ProcessExecutor`
        with more than one worker, :class:`LocalExecutor` with one.
    """
    workers = cfg.workers or default_workers(cfg.threads)
    if n_runs is not None:
        workers = max(1, min(workers, n_runs))
    if cfg.scheduler == LOCAL_CLUSTER:
        return DaskExecutor(workers=workers)
    if cfg.scheduler:
        return DaskExecutor(scheduler=cfg.scheduler)
    if workers == 1:
        return LocalExecutor(data)
    return ProcessExecutor(workers, data)
