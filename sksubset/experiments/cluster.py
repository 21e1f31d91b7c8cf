"""Experiment runs on a Dask cluster: one task per run, records on the shared output folder.

``sksubset-bench --scheduler ADDRESS`` (a running ``dask scheduler``) or
``--workers N`` (a ``distributed.LocalCluster`` of ``N`` single-threaded
worker processes on this machine) sends every run whose record is not on disk
to the cluster instead of training it here.  A worker trains the run, writes
its record under ``<out>/runs`` exactly as a local run does, and returns it;
the report is then computed here from the records, so the table is the one a
local run gives.

A run is never trained twice:

* runs whose record exists are not submitted (resuming an interrupted
  experiment works as locally);
* a run's task key is derived from the output folder and the run id, so two
  runners sending the same run to one scheduler share one task;
* a worker reads the record instead of training when it appears meanwhile.

Workers need the data (Fashion-MNIST or ``.npz`` path, read on the worker)
and the output folder at the same paths as this machine, e.g. a shared file
system.  Requires the ``dask`` extra: ``pip install sksubset[dask]``.
"""

import hashlib
import json
import os
from contextlib import contextmanager

from tqdm.auto import tqdm

from .runner import _log, load_data, save_record, train_run, warm_up

__all__ = ["execute_on_dask", "run_on_worker", "connect"]

#: per worker process: data and warm-up, keyed by what they depend on
_WORKER_CACHE = {}


def _require_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError("Running on a Dask cluster (--scheduler / --workers) needs "
                          "dask[distributed]: pip install sksubset[dask]") from exc
    return distributed


@contextmanager
def connect(cfg):
    """A ``distributed.Client`` of ``cfg.scheduler``, or of a new local cluster of ``cfg.workers``.

    The local cluster has single-threaded worker processes (one run at a time
    each) and no dashboard; client and cluster are closed on exit.
    """
    distributed = _require_distributed()
    if cfg.scheduler:
        with distributed.Client(cfg.scheduler) as client:
            yield client
        return
    with distributed.LocalCluster(n_workers=cfg.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def _worker_state(cfg):
    """The data of ``cfg``, loaded and warmed up once per worker process."""
    key = (cfg.dataset, cfg.data_dir, cfg.model, cfg.batch_size, cfg.device)
    if key not in _WORKER_CACHE:
        data = load_data(cfg)
        warm_up(cfg, data)
        _WORKER_CACHE[key] = data
    return _WORKER_CACHE[key]


def run_on_worker(spec, cfg, runs_dir):
    """Train one run on a worker, save its record, return it (or the saved one).

    Parameters
    ----------
    spec : RunSpec
    cfg : ExperimentConfig
        Resolved.
    runs_dir : str
        Folder of the per-run JSON files (shared with the client).
    """
    import torch

    path = os.path.join(runs_dir, spec.run_id + ".json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    record = train_run(spec, cfg, _worker_state(cfg))
    save_record(record, path)
    return record


def _task_key(runs_dir, spec):
    folder = hashlib.sha1(os.path.abspath(runs_dir).encode()).hexdigest()[:8]
    return f"sksubset-run-{folder}-{spec.run_id}"


def execute_on_dask(cfg, specs, runs_dir, client=None):
    """Train on a Dask cluster the specs whose record is not on disk; return all records.

    Parameters
    ----------
    cfg : ExperimentConfig
        Resolved, with ``scheduler`` or ``workers`` set (unless ``client`` is given).
    specs : list of RunSpec
    runs_dir : str
    client : distributed.Client, optional
        Use this client instead of connecting to ``cfg.scheduler`` or starting
        ``cfg.workers`` local workers.

    Returns
    -------
    list of dict
        One record per spec, in spec order.
    """
    os.makedirs(runs_dir, exist_ok=True)
    records, todo = {}, []
    for spec in specs:
        path = os.path.join(runs_dir, spec.run_id + ".json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                records[spec.run_id] = json.load(f)
            if cfg.quiet:
                _log(f"{spec.run_id}: done before, skipped", None)
        else:
            todo.append(spec)
    if todo and client is not None:
        records.update(_gather(client, cfg, todo, runs_dir))
    elif todo:
        with connect(cfg) as client:
            records.update(_gather(client, cfg, todo, runs_dir))
    return [records[s.run_id] for s in specs]


def _gather(client, cfg, specs, runs_dir):
    distributed = _require_distributed()
    futures = {client.submit(run_on_worker, spec, cfg, runs_dir, key=_task_key(runs_dir, spec),
                             pure=False, retries=0): spec for spec in specs}
    out = {}
    bar = None if cfg.quiet else tqdm(total=len(specs), desc="runs", unit="run")
    try:
        for future in distributed.as_completed(futures):
            record = future.result()  # a failed run raises here; finished ones stay saved
            spec = futures[future]
            out[spec.run_id] = record
            msg = (f"{spec.run_id}: accuracy {record['test_accuracy']:.4f}, "
                   f"{record['fit_seconds']:.2f} s")
            _log(msg, bar)
            if bar is not None:
                bar.update()
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if bar is not None:
            bar.close()
    return out
