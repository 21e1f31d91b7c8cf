"""Searches and experiment runs on a Dask cluster (a LocalCluster of 2 worker processes).

A search under joblib's Dask backend must score every candidate exactly as
``n_jobs=1`` does under the same ``random_state``; the runner on the cluster
must write the records and the table of a local run, resume, and never train
a run twice.
"""

import os
import sys
import threading

import numpy as np
import pytest
import torch
from joblib import parallel_backend
from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    RandomizedSearchCV,
)
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset.experiments import ExperimentConfig, run_experiment
from sksubset.experiments.cluster import DaskExecutor, connect
from sksubset.experiments.models import MLP
from sksubset.experiments.plan import plan_runs
from sksubset.experiments.runner import execute


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (pip install sksubset[dask])")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400]


def _classifier():
    net = NeuralNetClassifier(MLP, module__n_features=64, module__n_classes=10,
                              module__hidden=(16,), criterion=torch.nn.CrossEntropyLoss,
                              max_epochs=4, batch_size=32, lr=0.1, train_split=None, verbose=0)
    return SubsetTrainingClassifier(net, budget=0.3, R=2, kappa=0.25, random_state=0, verbose=0)


def _scores(search):
    keys = sorted(k for k in search.cv_results_ if k.startswith("split") or k == "mean_test_score")
    return {k: np.asarray(search.cv_results_[k]) for k in keys}


def _compare(make_search, X, y):
    """Fit ``make_search(n_jobs)`` with n_jobs=1 here (one torch thread, as the workers) and
    with n_jobs=-1 on the cluster; return both."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = make_search(1).fit(X, y)
    finally:
        torch.set_num_threads(threads)
    with parallel_backend("dask"):
        remote = make_search(-1).fit(X, y)
    a, b = _scores(local), _scores(remote)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert local.best_params_ == remote.best_params_
    return local, remote


def test_grid_search_on_dask_scores_as_one_job(client, digits):
    grid = {"R": [1, 2], "net__lr": [0.05, 0.2]}
    _compare(lambda n_jobs: GridSearchCV(_classifier(), grid, cv=2, n_jobs=n_jobs), *digits)


def test_randomized_search_on_dask_scores_as_one_job(client, digits):
    dist = {"kappa": [0.0, 0.5], "net__lr": loguniform(0.01, 0.3)}
    _compare(lambda n_jobs: RandomizedSearchCV(_classifier(), dist, n_iter=3, cv=2,
                                               random_state=0, n_jobs=n_jobs), *digits)


def test_halving_search_over_the_budget_on_dask(client, digits):
    """The subset size is the successive-halving resource: early rounds train on small subsets."""
    grid = {"net__lr": [0.02, 0.05, 0.1, 0.2]}
    local, remote = _compare(
        lambda n_jobs: HalvingGridSearchCV(_classifier(), grid, resource="budget", factor=2,
                                           min_resources=40, max_resources=160, cv=2,
                                           random_state=0, n_jobs=n_jobs), *digits)
    assert list(remote.n_resources_) == [40, 80, 160]
    assert list(remote.n_candidates_) == [4, 2, 1]
    assert remote.best_estimator_.subset_size_ == 160


def _config(out, **kw):
    return ExperimentConfig(strategies=("full", "random", "gradmatch"), budgets=(0.1, 0.3),
                            seeds=1, epochs=4, R=2, out=str(out), quiet=True, **kw)


def _table_without_timings(result):
    keep = ("strategy", "budget", "n_runs", "accuracy_mean", "accuracy_std")
    return [{k: row.get(k) for k in keep} for row in result["rows"]]


def test_runner_on_a_scheduler_gives_the_local_table_and_resumes(client, tmp_path):
    local = run_experiment(_config(tmp_path / "local"))
    remote = run_experiment(_config(tmp_path / "dask", scheduler=client.scheduler.address))
    assert _table_without_timings(remote) == _table_without_timings(local)
    for a, b in zip(local["records"], remote["records"]):
        assert (a["run_id"], a["test_accuracy"]) == (b["run_id"], b["test_accuracy"])
    # resume: delete one record, rerun; only that run is trained again
    runs = tmp_path / "dask" / "runs"
    files = sorted(runs.iterdir())
    assert len(files) == 5
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    files[0].unlink()
    again = run_experiment(_config(tmp_path / "dask", scheduler=client.scheduler.address))
    assert _table_without_timings(again) == _table_without_timings(local)
    changed = [f.name for f in sorted(runs.iterdir()) if f.stat().st_mtime_ns != stamps[f.name]]
    assert changed == [files[0].name]


def test_two_runners_sending_the_same_runs_train_each_once(client, tmp_path):
    cfg = _config(tmp_path).resolved()
    specs = plan_runs(cfg, 1257)
    results = [None, None]

    def runner(i):
        results[i] = execute(cfg, specs, None, str(tmp_path / "runs"),
                             executor=DaskExecutor(client=client))

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a second training would have its own wall-clock: the records are one training's
    assert [r["fit_seconds"] for r in results[0]] == [r["fit_seconds"] for r in results[1]]
    assert len(os.listdir(tmp_path / "runs")) == len(specs)


def test_without_dask_the_runner_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install sksubset\[dask\]"):
        with connect(workers=2):
            pass



def test_runner_on_a_local_dask_cluster_gives_the_records_of_one_process(tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    local = run_experiment(_config(tmp_path / "local", workers=1))
    dask = run_experiment(_config(tmp_path / "dask", scheduler="local", workers=2))
    assert [(r["run_id"], r["test_accuracy"]) for r in dask["records"]] == [
        (r["run_id"], r["test_accuracy"]) for r in local["records"]]
