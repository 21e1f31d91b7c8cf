"""A data-parallel fit that loses a process stops with an error naming where.

Two CPU processes (gloo) with a process-group timeout of 5 s: rank 1 is killed
in a selection round, or paused in a training epoch.  Rank 0 must stop (within
the timeout for the paused one: without it, gloo waits 30 minutes and the
test's guard ends it) with a :class:`~sksubset.exceptions.DataParallelError`
naming its rank, the world size, the epoch and the selection round.
"""

import datetime
import os
import pickle
import socket
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import torch

from sksubset.distributed import AcceleratedProcesses
from sksubset.exceptions import DataParallelError

pytest.importorskip("accelerate",
                    reason="accelerate is not installed (pip install sksubset[accelerate])")

HERE = os.path.dirname(os.path.abspath(__file__))
#: the whole fit of the survivor, with its 5 s timeout, ends far sooner; a process that
#: waited for torch's default timeout (30 minutes) is ended here
GUARD_SECONDS = 120


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_pair(out, how, where):
    """Start the two ranks of one fit (rank 1 stops itself ``how``, ``where``)."""
    path = os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")])
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                   OMP_NUM_THREADS="1", PYTHONPATH=path)
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "distributed_fault_worker.py"), out, how, where],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


#: (how rank 1 stops, where) -> (epoch, selection round, what rank 0 was doing); max_epochs=6,
#: R=2, kappa=0: rounds before epochs 1, 3 and 5 (1-based)
CASES = {("kill", "select"): (3, 2, "agreeing on the subset"),  # RANDOM gathers no factors
         ("pause", "train"): (2, 1, "training")}


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """What rank 0's fit raised in each case; the cases' process pairs run side by side."""
    tmp = tmp_path_factory.mktemp("faults")
    pairs = {case: _start_pair(str(tmp / "-".join(case)), *case) for case in CASES}
    deadline = time.monotonic() + GUARD_SECONDS
    logs, results = {}, {}
    try:
        for case, (first, _) in pairs.items():
            try:
                logs[case], _ = first.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{case}: rank 0 still waits {GUARD_SECONDS} s after starting with "
                            f"a 5 s process-group timeout")
    finally:
        for procs in pairs.values():  # the paused rank 1 (or anything left) ends here
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
    for case, (first, _) in pairs.items():
        assert first.returncode == 3, logs[case][-3000:]
        with open(str(tmp / "-".join(case)) + ".rank0", "rb") as f:
            results[case] = pickle.load(f)
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_survivor_names_its_rank_epoch_and_round(faults, case):
    epoch, selection_round, what = CASES[case]
    error = faults[case]
    assert error["type"] == "DataParallelError", error
    assert (error["rank"], error["world_size"]) == (0, 2)
    assert (error["epoch"], error["selection_round"]) == (epoch, selection_round)
    assert error["timeout"] == datetime.timedelta(seconds=5)
    message = error["message"]
    assert message.startswith(f"Rank 0 of 2 lost contact with the other processes while {what}")
    assert f"epoch {epoch} of 6 (subset training, selection round {selection_round})" in message
    assert "(0:00:05)" in message
    assert "RuntimeError" in error["cause"]  # gloo's own error, chained


class _Accelerator(types.SimpleNamespace):
    process_index, num_processes, is_main_process, device = 1, 2, False, "cpu"


def _broken(*args, **kwargs):
    raise RuntimeError("[gloo/transport/tcp/pair.cc:537] Connection closed by peer")


@pytest.mark.parametrize("call, what", [
    (lambda p: p.agree("x"), "agreeing on the subset"),
    (lambda p: p.agree(True, "agreeing on whether to select"), "agreeing on whether to select"),
    (lambda p: p.shared_random_state(np.random.RandomState(0)), "agreeing on the random state"),
    (lambda p: p._gather_rows(torch.zeros(2, 3), [2, 2]),
     "gathering the candidates' last-layer factors"),
    (lambda p: p.record_costs({"seconds": 0.0, "gradient_seconds": 0.0, "solver_seconds": 0.0},
                              types.SimpleNamespace(indices=[0], weights=[1.0])),
     "exchanging the costs of the selection round"),
])
def test_every_collective_names_what_failed(monkeypatch, call, what):
    for name in ("broadcast_object_list", "all_gather_object", "all_gather"):
        monkeypatch.setattr(torch.distributed, name, _broken)
    procs = AcceleratedProcesses(_Accelerator(),
                                 where=lambda selecting: (4, 2, "epoch 4 of 6 (round 2)"))
    with pytest.raises(DataParallelError, match=f"^Rank 1 of 2 lost contact with the other "
                                                f"processes while {what}, in epoch 4 of 6") as info:
        call(procs)
    error = info.value
    assert (error.rank, error.world_size, error.epoch, error.selection_round) == (1, 2, 4, 2)
    assert isinstance(error.__cause__, RuntimeError) and "gloo" in str(error.__cause__)
    assert isinstance(error, RuntimeError)  # code catching the backend's error still does
    clone = pickle.loads(pickle.dumps(error))
    assert (str(clone), clone.rank, clone.epoch) == (str(error), 1, 4)


def test_a_training_error_of_another_kind_is_left_alone():
    procs = AcceleratedProcesses(_Accelerator(), where=lambda selecting: (1, None, "epoch 1"))
    assert procs.training_failed(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    error = procs.training_failed(RuntimeError("[gloo] Timed out waiting 5000ms for recv"))
    assert isinstance(error, DataParallelError) and "while training" in str(error)
