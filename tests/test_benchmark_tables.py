"""The two table scripts of examples/benchmarks/ that measure the default against its baselines."""

import json
import pathlib
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).parents[1] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))
import digits_constant_lr  # noqa: E402
import frontier_in_epochs  # noqa: E402


def _write(runs, i, **record):
    with open(runs / f"r{i}.json", "w", encoding="utf-8") as f:
        json.dump(record, f)


def test_costs_in_own_epochs_and_the_frontier_read_there(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    i = 0
    for seed in range(3):
        for e, acc in ((4, 0.80), (8, 0.90)):
            i += 1
            _write(runs, i, kind="full-frontier", strategy="full-frontier", seed=seed, epochs=e,
                   test_accuracy=acc)
        # T = 20, kappa 0.5, budget 0.1: one warm epoch of 2 s, a run of 12 s = 6 own epochs
        i += 1
        speed = 2.0 * (1 + seed)  # a machine whose speed drifts from run to run
        _write(runs, i, kind="subset", strategy="gm", seed=seed, budget=0.1,
               settings={"T": 20, "kappa": 0.5}, test_accuracy=0.86 + 0.01 * seed,
               fit_seconds=6 * speed,
               timing={"warm_start": speed, "gradients": 0.5 * speed, "solver": 0.5 * speed,
                       "total": 6 * speed})
        # the same strategy at 30%, on a machine 10 times slower: three warm epochs, 7 own epochs
        i += 1
        _write(runs, i, kind="subset", strategy="gm", seed=seed, budget=0.3,
               settings={"T": 20, "kappa": 0.5}, test_accuracy=0.88, fit_seconds=70 * speed,
               timing={"warm_start": 30 * speed, "gradients": 0.0, "solver": 0.0,
                       "total": 70 * speed})
    out = frontier_in_epochs.table(str(tmp_path))
    row = next(line for line in out.splitlines() if line.startswith("| gm "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "6.00"  # every seed costs 6 of its own epochs
    assert cells[3] == "+2.00"  # the frontier at 6 epochs is 0.85; the runs average 0.87
    assert cells[4] == "3/3" and cells[6] == "16.7%"
    assert cells[7] == "+4.50"  # selection free: 5 epochs, frontier 0.825
    row = next(line for line in frontier_in_epochs.table(str(tmp_path), budget=0.3).splitlines()
               if line.startswith("| gm "))
    assert [c.strip() for c in row.strip("|").split("|")][2] == "7.00"  # each budget its own


@pytest.mark.usefixtures("one_thread")
def test_digits_constant_rate_runs_and_tabulates(tmp_path):
    digits_constant_lr.main(["--seeds", "2", "--configs", "default", "random-warm",
                             "--out", str(tmp_path)])
    records = [json.loads(line) for line in open(tmp_path / "runs.jsonl")]
    assert sorted((r["config"], r["seed"]) for r in records) == [
        ("default", 0), ("default", 1), ("random-warm", 0), ("random-warm", 1)]
    assert all(0.5 < r["accuracy"] <= 1 for r in records)
    table = (tmp_path / "table.md").read_text()
    assert "| default |" in table and "/2, p = " in table
    digits_constant_lr.main(["--seeds", "2", "--configs", "default", "--out", str(tmp_path)])
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 4  # finished runs skipped
    assert np.isfinite([r["cpu_seconds"] for r in records]).all()
