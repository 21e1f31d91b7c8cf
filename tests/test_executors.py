"""The executor seam: a local executor and the choice between it and Dask."""

import sys

import pytest

from sksubset.experiments import ExperimentConfig
from sksubset.experiments.cluster import DaskExecutor
from sksubset.experiments.executors import LocalExecutor, make_executor


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
    local = make_executor(ExperimentConfig().resolved(), data="arrays")
    assert isinstance(local, LocalExecutor) and local.data == "arrays"
    dask = make_executor(ExperimentConfig(workers=3).resolved())
    assert isinstance(dask, DaskExecutor) and (dask.scheduler, dask.workers) == (None, 3)
    dask = make_executor(ExperimentConfig(scheduler="tcp://h:8786").resolved())
    assert isinstance(dask, DaskExecutor) and dask.scheduler == "tcp://h:8786"


def test_dask_executor_without_dask_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    assert list(DaskExecutor(workers=2).map(FakeJob(), [])) == []  # nothing to send
    with pytest.raises(ImportError, match=r"pip install sksubset\[dask\]"):
        list(DaskExecutor(workers=2).map(FakeJob(), ["a"]))
