"""examples/benchmarks/device_check.py: the trace's copies, and the whole check on the CPU."""

import importlib
import pathlib
import sys

import numpy as np
import torch

BENCH = pathlib.Path(__file__).parents[1] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))
import device_check  # noqa: E402


def test_memcpy_summary_counts_copies_by_direction():
    events = [
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pageable)",
         "args": {"bytes": 8}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pinned)",
         "args": {"bytes": 4000}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)",
         "args": {"bytes": 100}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaMemcpyAsync", "args": {}},
        {"ph": "X", "cat": "gpu_memset", "name": "Memset (Device)", "args": {"bytes": 64}},
        {"ph": "i", "name": "Memcpy DtoH (Device -> Pageable)"},  # not a complete event
        {"ph": "X", "cat": "kernel", "name": "gemv", "args": {}},
    ]
    assert device_check.memcpy_summary(events) == {
        "DtoH": {"count": 2, "bytes": 4008, "max_bytes": 4000},
        "HtoD": {"count": 1, "bytes": 100, "max_bytes": 100}}
    assert device_check.memcpy_summary([]) == {}


def test_device_check_on_the_cpu(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((200, 1, 28, 28), dtype=np.float32)
    y = np.arange(200) % 10
    torch.manual_seed(0)
    res = device_check.device_check(X, y, X[:20], y[:20], torch.device("cpu"), T=3, R=1,
                                 out=str(tmp_path), batch_size=8)  # 20-row subsets: 3 batches
    # T=3, kappa=0.5: one warm epoch, two subset epochs, a selection before each
    assert [r["epoch"] for r in res["rounds"]] == [1, 2]
    assert [r["profiled"] for r in res["rounds"]] == [False, True]
    assert all(r["factor_devices"] == ["cpu"] == r["solver_devices"] for r in res["rounds"])
    prof = res["rounds"][1]
    assert prof["copies"] == {} and prof["kernels"] == 0  # no GPU, no GPU copies or kernels
    assert prof["factor_bytes"] == 4 * 200 * (10 + 85)  # E and Hb of the whole pool, float32
    assert res["passed"] and set(res["checks"]) == {
        "every round selected on the device", "the trained net's parameters on the device",
        "a round was profiled"}
    assert (tmp_path / "round_trace.json").stat().st_size > 0
    solver = importlib.import_module(device_check.SOLVER_MODULE)
    assert solver.solve_batched.__name__ == "solve_batched"  # restored
    text = "\n".join(device_check.device_markdown(res, torch.device("cpu")))
    assert "1 (profiled)" in text and "- pass: every round selected on the device" in text
