"""The executor seam: in this process, in a pool of local worker processes, and the choice
between them and Dask."""

import multiprocessing
import os
import sys
import time

import pytest

from sksubset.experiments import ExperimentConfig, executors
from sksubset.experiments.cluster import DaskExecutor
from sksubset.experiments.executors import (
    LocalExecutor,
    ProcessExecutor,
    default_workers,
    make_executor,
)


class FakeJob:
    """Records what an executor asks of a job."""

    data_key = "key"

    def __init__(self):
        self.prepared, self.calls = [], []

    def key(self, spec):
        return f"task-{spec}"

    def prepare(self, data):
        self.prepared.append(data)
        return ("prepared", data)

    def __call__(self, spec, data):
        self.calls.append((spec, data))
        return {"run": spec}


def test_local_executor_prepares_once_and_runs_in_order():
    job = FakeJob()
    out = list(LocalExecutor(data="arrays").map(job, iter(["b", "a", "c"])))
    assert out == [("b", {"run": "b"}), ("a", {"run": "a"}), ("c", {"run": "c"})]
    assert job.prepared == ["arrays"]
    assert job.calls == [(s, ("prepared", "arrays")) for s in "bac"]


def test_local_executor_prepares_nothing_for_no_run():
    job = FakeJob()
    assert list(LocalExecutor().map(job, [])) == []
    assert job.prepared == [] and job.calls == []


def test_local_executor_without_data_lets_the_job_load_it():
    job = FakeJob()
    list(LocalExecutor().map(job, ["a"]))
    assert job.prepared == [None]


def test_make_executor_chooses_from_the_settings():
    local = make_executor(ExperimentConfig(workers=1).resolved(), data="arrays")
    assert isinstance(local, LocalExecutor) and local.data == "arrays"
    pool = make_executor(ExperimentConfig(workers=3).resolved(), data="arrays", n_runs=10)
    assert isinstance(pool, ProcessExecutor) and (pool.workers, pool.data) == (3, "arrays")
    one_run = make_executor(ExperimentConfig(workers=3).resolved(), n_runs=1)
    assert isinstance(one_run, LocalExecutor)  # no more workers than runs
    dask = make_executor(ExperimentConfig(scheduler="tcp://h:8786").resolved())
    assert isinstance(dask, DaskExecutor) and dask.scheduler == "tcp://h:8786"
    dask = make_executor(ExperimentConfig(scheduler="local", workers=3).resolved(), n_runs=10)
    assert isinstance(dask, DaskExecutor) and (dask.scheduler, dask.workers) == (None, 3)


def test_make_executor_fills_the_cores_by_default(monkeypatch):
    monkeypatch.setattr(executors, "available_cores", lambda: 4)
    digits = ExperimentConfig().resolved()  # one torch thread a run
    assert make_executor(digits, n_runs=90).workers == 4
    assert make_executor(digits, n_runs=2).workers == 2
    assert isinstance(make_executor(digits, n_runs=1), LocalExecutor)
    two = ExperimentConfig(threads=2).resolved()
    assert make_executor(two, n_runs=90).workers == 2
    torch_own = ExperimentConfig(dataset="fashion-mnist").resolved()  # threads: torch's own
    assert torch_own.threads is None
    assert isinstance(make_executor(torch_own, n_runs=90), LocalExecutor)


def test_default_workers_rule():
    assert default_workers(1, 90, cores=2) == 2
    assert default_workers(1, 90, cores=16) == 16
    assert default_workers(2, 90, cores=16) == 8
    assert default_workers(1, 3, cores=16) == 3  # at most the runs
    assert default_workers(None, 90, cores=16) == 1  # torch's own threads: every core
    assert default_workers(4, 90, cores=2) == 1  # at least one
    assert default_workers(1, None, cores=6) == 6


def test_available_cores_follows_the_affinity(monkeypatch):
    monkeypatch.setattr(executors.os, "sched_getaffinity", lambda pid: {0, 3, 5},
                        raising=False)
    assert executors.available_cores() == 3
    monkeypatch.delattr(executors.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 7)
    assert executors.available_cores() == 7


def test_a_scheduler_address_takes_no_worker_count():
    with pytest.raises(ValueError, match="--workers"):
        ExperimentConfig(scheduler="tcp://h:8786", workers=2).resolved()
    ExperimentConfig(scheduler="local", workers=2).resolved()


def test_local_executor_names_the_run_that_raises():
    with pytest.raises(ValueError, match="bad run") as info:
        list(LocalExecutor().map(Failing(), ["a", "bad"]))
    assert info.value.__notes__ == ["raised by run bad"]


#: per process: how many times a :class:`PerProcess` job prepared data in it
PREPARES = []


class PerProcess(FakeJob):
    """A job reporting which process ran a spec and how often that process prepared data."""

    def prepare(self, data):
        PREPARES.append(data)
        return ("prepared", data)

    def __call__(self, spec, data):
        return {"run": spec, "data": data, "pid": os.getpid(), "prepares": len(PREPARES)}


class Failing(FakeJob):
    """A job whose spec ``bad`` raises, and whose spec ``slow`` takes a minute."""

    def __call__(self, spec, data):
        if spec == "bad":
            raise ValueError("bad run")
        if spec == "slow":
            time.sleep(60)
        return {"run": spec}


def _children():
    return multiprocessing.active_children()


def test_process_executor_trains_every_run_once_preparing_once_per_process():
    specs = [f"s{i}" for i in range(8)]
    out = list(ProcessExecutor(2, data="arrays").map(PerProcess(), iter(specs)))
    assert sorted(spec for spec, _ in out) == specs
    assert all(record["run"] == spec for spec, record in out)
    assert all(record["data"] == ("prepared", "arrays") for _, record in out)
    assert all(record["prepares"] == 1 for _, record in out)  # once per worker process
    assert {record["pid"] for _, record in out} - {os.getpid()}  # not in this process
    assert PREPARES == [] and not _children()  # nothing prepared here; workers ended


def test_process_executor_prepares_nothing_for_no_run():
    assert list(ProcessExecutor(2).map(PerProcess(), [])) == []


def test_a_run_raising_in_a_worker_names_the_run_and_stops_the_others():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="bad run") as info:
        list(ProcessExecutor(2).map(Failing(), ["slow", "bad", "c"]))
    assert "raised by run bad" in info.value.__notes__
    assert time.perf_counter() - start < 30  # the slow run was stopped, not waited for
    assert not _children()


def test_leaving_the_runs_early_stops_the_workers():
    """What Ctrl-C does: the loop over the results ends, and the workers with it."""
    start = time.perf_counter()
    runs = ProcessExecutor(2).map(Failing(), ["a", "slow", "slow", "c"])
    assert next(runs) == ("a", {"run": "a"})
    runs.close()
    assert time.perf_counter() - start < 30 and not _children()
def test_dask_executor_without_dask_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    assert list(DaskExecutor(workers=2).map(FakeJob(), [])) == []  # nothing to send
    with pytest.raises(ImportError, match=r"pip install sksubset\[dask\]"):
        list(DaskExecutor(workers=2).map(FakeJob(), ["a"]))
