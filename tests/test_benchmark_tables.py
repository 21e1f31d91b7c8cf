"""The table scripts of examples/benchmarks/: the default against its baselines, and tuning on
subsets."""

import json
import pathlib
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).parents[1] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))
import digits_constant_lr  # noqa: E402
import frontier_in_epochs  # noqa: E402
import tuning_on_subsets  # noqa: E402


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


def test_tuning_summary_scores_each_search_against_the_reference(tmp_path):
    """Kendall's tau over the grid and within a hyperparameter, same choices, the choice's
    accuracy against the reference's, speedups; a diverged choice off the plot's scale."""
    grid = {"net__lr": [0.01, 0.1], "net__optimizer__weight_decay": [0.0, 1e-3]}
    best = {"net__lr": 0.01, "net__optimizer__weight_decay": 1e-3}
    records = []
    for seed in range(2):
        records.append({"seed": seed, "search": tuning_on_subsets.REFERENCE, "cpu_seconds": 100.0,
                        "scores": [0.7, 0.9, 0.2, 0.1], "chosen": best, "test_accuracy": 0.90,
                        "refit_cpu_seconds": 20.0})
        # seed 0 ranks the learning rate right and the weight decay reversed; seed 1 ranks
        # the rate reversed and chooses lr 0.1, which diverges on all the data
        records.append({"seed": seed, "search": "sub", "cpu_seconds": 10.0 * (1 + seed),
                        "scores": [0.8, 0.6, 0.2, 0.3] if seed == 0 else [0.1, 0.2, 0.3, 0.9],
                        "chosen": (best if seed == 0 else
                                   {"net__lr": 0.1, "net__optimizer__weight_decay": 1e-3}),
                        "test_accuracy": 0.90 if seed == 0 else 0.10,
                        "refit_cpu_seconds": 20.0})
    table, choices, rows = tuning_on_subsets.summarize(records, grid, [0, 1])
    cells = [c.strip() for c in table.splitlines()[3].strip("|").split("|")]
    assert cells[0] == "sub"
    assert cells[2] == "7.5 ± 3.5x"  # 100/10 and 100/20
    assert cells[3] == "3.5 ± 0.7x"  # 120/30 and 120/40
    assert cells[5] == "0.00 ± 1.41"  # tau lr: +1 on seed 0, -1 on seed 1
    assert cells[6] == "-0.50 ± 0.71"  # tau wd: -1 (reversed at either rate), then 0
    assert cells[7] == "1/2"
    assert cells[9] == "-40.00 ± 56.57 (worst -80.00)"
    assert "lr=0.1, wd=0.001" in choices
    assert rows[1][0] == "sub" and rows[1][3] == [0.0, -80.0]
    tuning_on_subsets.plot(rows, "title", str(tmp_path / "tuning.png"))
    assert (tmp_path / "tuning.png").stat().st_size > 0
