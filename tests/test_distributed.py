"""Data-parallel subset training across processes (skorch's AccelerateMixin).

Two CPU processes (gloo) started with ``accelerate launch`` train one
classifier; both must hold the same selection history, each round must be
what one process selects on the same gradients, the gathered gradients must be
the ones one process computes, and the accuracy must stay within noise of one
process.  A shorter run checks the same agreement under ``torchrun``.
"""

import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset.distributed import SingleProcess, processes_of
from sksubset.experiments.models import MLP
from sksubset.gradients import LastLayer, last_layer
from sksubset.selectors import GradMatchSelector, SelectionContext

accelerate = pytest.importorskip(
    "accelerate", reason="accelerate is not installed (pip install sksubset[accelerate])")

HERE = os.path.dirname(os.path.abspath(__file__))
PARAMS = {
    "net": dict(module=MLP, module__n_features=64, module__n_classes=10, module__hidden=(32,),
                criterion=torch.nn.CrossEntropyLoss, max_epochs=20, batch_size=16, lr=0.05,
                train_split=None, verbose=0),
    "selector": dict(per_class=True, lam=0.5),
    "clf": dict(budget=0.2, R=3, kappa=0.0, random_state=0, verbose=0),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


#: two CPU processes: accelerate's launcher (torchrun underneath; ``--cpu`` would start one
#: process) with ``Accelerator(cpu=True)`` in the worker, or torchrun itself
LAUNCHERS = {"accelerate": ["accelerate", "launch", "--multi_gpu", "--num_processes", "2",
                            "--num_machines", "1", "--mixed_precision", "no",
                            "--dynamo_backend", "no", "--main_process_port", "0"],
             "torchrun": ["torchrun", "--standalone", "--nproc_per_node", "2"]}


def _launch(launcher, params, digits, tmp):
    """Per-rank results of the worker started by ``launcher`` on 2 CPU processes."""
    if shutil.which(LAUNCHERS[launcher][0]) is None:
        pytest.skip(f"{LAUNCHERS[launcher][0]} is not on the PATH")
    X_train, X_test, y_train, y_test = digits
    with open(tmp / "data.pkl", "wb") as f:
        pickle.dump((params, X_train, y_train, X_test, y_test), f)
    path = os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    cmd = LAUNCHERS[launcher] + [os.path.join(HERE, "distributed_worker.py"), str(tmp / "out"),
                                 str(tmp / "data.pkl")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    done = [tmp / f"out.rank{rank}" for rank in range(2)]
    # each rank writes its results after fit and score, then leaves the process group; under
    # load gloo has aborted a rank at that teardown ("terminate called without an active
    # exception"), which is no part of what is tested here: the results are what count
    assert proc.returncode == 0 or all(p.exists() for p in done), (
        proc.stdout[-3000:] + proc.stderr[-3000:])
    results = []
    for path in done:
        with open(path, "rb") as f:
            results.append(pickle.load(f))
    return results


@pytest.fixture(scope="module")
def two_ranks(digits, tmp_path_factory):
    return _launch("accelerate", PARAMS, digits, tmp_path_factory.mktemp("accelerate"))


@pytest.fixture(scope="module")
def one_process(digits):
    """The same fit in this process, with a plain skorch net and the global batch of two
    ranks (two 16-row batches averaged = one 32-row batch)."""
    X_train, X_test, y_train, y_test = digits
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = NeuralNetClassifier(**dict(PARAMS["net"], batch_size=32))
        clf = SubsetTrainingClassifier(net,
                                       selector=GradMatchSelector(**PARAMS["selector"]),
                                       **PARAMS["clf"]).fit(X_train, y_train)
        return clf, clf.score(X_test, y_test)
    finally:
        torch.set_num_threads(threads)


def _selection(record):
    return record["epoch"], record["reason"], record["indices"], record["weights"]


def _assert_same_history(a, b):
    assert (a["rank"], b["rank"], a["world_size"]) == (0, 1, 2)
    assert len(a["history"]) == len(b["history"])
    for ra, rb in zip(a["history"], b["history"]):
        ea, wa_reason, ia, wa = _selection(ra)
        eb, wb_reason, ib, wb = _selection(rb)
        assert (ea, wa_reason) == (eb, wb_reason)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(wa, wb)
        assert ra["solves_agree"] and rb["solves_agree"]
        assert ra["rank_seconds"] == rb["rank_seconds"] and len(ra["rank_seconds"]) == 2
        # each rank forwarded its half of the 1257 candidates: several processes harvest nothing
        assert ra["rank_rows"] == [628, 629]
        assert (ra["n_harvested"], ra["n_forward"]) == (0, 1257)


def test_both_ranks_hold_the_same_selection_history(two_ranks):
    assert len(two_ranks[0]["history"]) == 7  # epochs 0, 3, ..., 18
    _assert_same_history(*two_ranks)


def test_torchrun_ranks_agree(digits, tmp_path):
    params = dict(PARAMS, net=dict(PARAMS["net"], max_epochs=6),
                  clf=dict(PARAMS["clf"], R=2, kappa=0.5, random_state=None))
    a, b = _launch("torchrun", params, digits, tmp_path)
    assert len(a["history"]) == 2 and a["accuracy"] == b["accuracy"]
    _assert_same_history(a, b)


def test_each_round_is_the_single_process_selection_on_the_same_gradients(two_ranks, one_thread):
    # one torch thread, as in the workers: a float32 solve is then bit for bit the same
    for result in two_ranks:
        assert len(result["rounds"]) == len(result["history"])
        for (state, E, Hb, y), record in zip(result["rounds"], result["history"]):
            rng = np.random.RandomState()
            rng.set_state(state)
            factors = LastLayer(torch.from_numpy(E), torch.from_numpy(Hb),
                                torch.zeros_like(torch.from_numpy(E)), torch.from_numpy(y))
            context = SelectionContext(
                y=y, n_classes=10, budget=len(record["indices"]), batch_size=16,
                per_batch=False, rng=rng, epoch=record["epoch"], device=torch.device("cpu"),
                train_fn=lambda idx, f=factors: f if idx is None else f[torch.as_tensor(idx)])
            sel = GradMatchSelector(**PARAMS["selector"]).select(context)
            np.testing.assert_array_equal(sel.indices, record["indices"])
            np.testing.assert_allclose(sel.weights, record["weights"], rtol=1e-12)


def test_gathered_gradients_and_first_round_match_one_process(two_ranks, one_process, digits):
    """With kappa=0 the first round sees the initial net: the same in both runs."""
    clf, _ = one_process
    X_train, _, y_train, _ = digits
    _, E, Hb, _ = two_ranks[0]["rounds"][0]
    # the single-process factors of the same initial net
    net = NeuralNetClassifier(**PARAMS["net"])
    torch.manual_seed(np.random.RandomState(0).randint(2**31 - 1))
    net.initialize()
    ref = last_layer(net, X_train.astype(np.float32),
                     np.searchsorted(clf.classes_, y_train))
    np.testing.assert_allclose(E, ref.E.numpy(), atol=1e-6)
    np.testing.assert_allclose(Hb, ref.Hb.numpy(), atol=1e-6)
    first = clf.selection_history_[0]
    np.testing.assert_array_equal(two_ranks[0]["history"][0]["indices"], first["indices"])
    np.testing.assert_allclose(two_ranks[0]["history"][0]["weights"], first["weights"])


def test_each_rank_trains_on_its_share_of_the_subset(two_ranks):
    a, b = two_ranks
    k = a["subset_size"][0]
    for rows_a, rows_b, w_a, w_b in zip(a["rank_rows"], b["rank_rows"], a["rank_weight"],
                                        b["rank_weight"]):
        # 16-row batches dealt in turn; the shorter share is topped up to an equal count
        assert k <= rows_a + rows_b < k + 2 * 16
        assert abs(rows_a - rows_b) < 16
        # every selected row once (weights rescaled to mean 1: they sum to k), plus the top-up
        assert w_a + w_b >= k * (1 - 1e-5) and w_a > 0 and w_b > 0


def test_accuracy_within_noise_of_one_process(two_ranks, one_process):
    _, accuracy = one_process
    assert two_ranks[0]["accuracy"] == two_ranks[1]["accuracy"]
    assert abs(two_ranks[0]["accuracy"] - accuracy) < 0.1


def test_single_process_net_exchanges_nothing(toy_net_factory):
    net = toy_net_factory()
    procs = processes_of(net)
    assert isinstance(procs, SingleProcess) and procs.is_main and procs.world_size == 1
    rng = np.random.RandomState(0)
    assert procs.shared_random_state(rng) is rng
    assert procs.agree("x") == "x"


def test_one_accelerated_process_trains_as_the_plain_net(digits, one_thread, capsys):
    """``accelerate launch --num_processes 1`` (or no launcher): the same run as a plain net."""
    from sksubset.distributed import AcceleratedNetClassifier, AcceleratedProcesses

    X_train, _, y_train, _ = digits
    params = dict(PARAMS["net"], max_epochs=4)
    fits = []
    for net in (NeuralNetClassifier(**params),
                AcceleratedNetClassifier(accelerator=accelerate.Accelerator(cpu=True),
                                         **dict(params, device=None))):
        clf = SubsetTrainingClassifier(net, **dict(PARAMS["clf"], R=2)).fit(X_train, y_train)
        fits.append(clf)
    assert isinstance(processes_of(fits[1].net_), AcceleratedProcesses)
    plain, accelerated = (f.selection_history_ for f in fits)
    assert len(plain) == len(accelerated) == 2
    for a, b in zip(plain, accelerated):
        np.testing.assert_array_equal(a["indices"], b["indices"])
        np.testing.assert_array_equal(a["weights"], b["weights"])
        assert b["rank_rows"] == [b["n_forward"]] and b["solves_agree"]
        assert (a["n_harvested"], a["n_forward"]) == (b["n_harvested"], b["n_forward"])
    assert plain[1]["n_harvested"] > 0  # one process harvests, accelerated or not
    np.testing.assert_array_equal(fits[0].predict_proba(X_train), fits[1].predict_proba(X_train))
    assert capsys.readouterr().out == ""  # verbose=0: no epoch log
