"""Summary table, interpolation, Wilcoxon p-values and plots, on hand-made run records."""

import csv
import json
import math

import numpy as np
import pytest
from conftest import rec

from sksubset.experiments import plots
from sksubset.experiments.report import (
    COLUMNS,
    format_table,
    frontier_accuracy,
    relative_error,
    summarize,
    wilcoxon_greater,
    write_report,
)


def test_frontier_interpolation():
    times, accs = [4.0, 1.0, 2.0], [0.9, 0.5, 0.7]
    assert frontier_accuracy(times, accs, 3.0) == pytest.approx(0.8)
    assert frontier_accuracy(times, accs, 1.5) == pytest.approx(0.6)
    assert frontier_accuracy(times, accs, 9.0) == pytest.approx(0.9)  # kept beyond the slowest
    assert math.isnan(frontier_accuracy(times, accs, 0.5))  # unknown before the fastest
    assert math.isnan(frontier_accuracy([], [], 1.0))


def test_wilcoxon_known_p_values():
    assert wilcoxon_greater([0.9, 0.8, 0.85], [0.8, 0.7, 0.75]) == pytest.approx(0.125)
    assert wilcoxon_greater(np.arange(5) + 1.0, np.zeros(5)) == pytest.approx(1 / 32)
    assert wilcoxon_greater([0.7, 0.6, 0.65], [0.8, 0.7, 0.75]) == pytest.approx(1.0)
    assert wilcoxon_greater([1.0, 2.0, -3.0], [0.0, 0.0, 0.0]) == pytest.approx(0.625)
    assert wilcoxon_greater([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert math.isnan(wilcoxon_greater([], []))


def test_relative_error():
    assert relative_error(0.8, 0.9) == pytest.approx(100.0)
    assert relative_error(0.95, 0.9) == pytest.approx(-50.0)
    assert math.isnan(relative_error(0.9, 1.0))


def test_summarize(records):
    rows = {(r["strategy"], r["budget"], r["epochs"]): r for r in summarize(records)}
    gm = rows[("gradmatch", 0.1, None)]
    assert gm["n_seeds"] == 3 and gm["accuracy_mean"] == pytest.approx(0.8)
    assert gm["accuracy_std"] == pytest.approx(0.0)
    assert gm["speedup"] == pytest.approx(10 / 3.5)
    assert gm["relative_error_pct"] == pytest.approx(100.0)
    assert gm["selection_share"] == pytest.approx(0.7 / 3.5)
    assert gm["p_vs_random"] == pytest.approx(0.125)      # above random on every seed
    assert gm["p_vs_random_warm"] == pytest.approx(1.0)   # below random-warm on every seed
    # frontier at 3.5 s: 0.7 + (1.5 / 3) * 0.1 = 0.75, so +5 pp on each seed
    assert gm["above_frontier"] == "3/3"
    assert gm["frontier_gain_pp"] == pytest.approx(5.0)
    assert gm["p_vs_frontier"] == pytest.approx(0.125)
    # selection free: 2.8 s, where the frontier is at 0.7 + (0.8 / 3) * 0.1
    assert gm["frontier_gain_free_pp"] == pytest.approx(100 * (0.8 - (0.7 + 0.08 / 3)))
    assert rows[("random", 0.1, None)]["frontier_gain_free_pp"] == pytest.approx(
        rows[("random", 0.1, None)]["frontier_gain_pp"])  # no selection time
    fast = rows[("gradmatch", 0.3, None)]
    assert fast["above_frontier"] is None and math.isnan(fast["frontier_gain_pp"])
    assert math.isnan(fast["p_vs_random"])  # no random run at that budget
    rnd = rows[("random", 0.1, None)]
    assert rnd["accuracy_std"] == pytest.approx(0.01)
    assert math.isnan(rnd["p_vs_random"]) and rnd["p_vs_random_warm"] == pytest.approx(1.0)
    full = rows[("full", None, 10)]
    assert full["speedup"] == pytest.approx(1.0) and full["relative_error_pct"] == 0
    assert full["above_frontier"] is None
    assert rows[("full-frontier", None, 2)]["speedup"] == pytest.approx(5.0)


def test_frontier_pairs_by_seed():
    records = [rec("full", 0, 0.9, 10.0, epochs=10), rec("full", 1, 0.5, 10.0, epochs=10),
               rec("full-frontier", 0, 0.8, 1.0, epochs=1),
               rec("full-frontier", 1, 0.4, 1.0, epochs=1),
               rec("gradmatch", 0, 0.85, 1.0, budget=0.1),
               rec("gradmatch", 1, 0.45, 1.0, budget=0.1)]
    gm = next(r for r in summarize(records) if r["strategy"] == "gradmatch")
    # seed 0: 0.85 vs 0.8, seed 1: 0.45 vs 0.4 (the mean frontier would give -15 and +35 pp)
    assert gm["frontier_gain_pp"] == pytest.approx(5.0)
    assert gm["above_frontier"] == "2/2"


def test_without_full_or_frontier():
    rows = summarize([rec("gradmatch", 0, 0.8, 1.0, budget=0.1)])
    assert math.isnan(rows[0]["speedup"]) and math.isnan(rows[0]["relative_error_pct"])
    assert rows[0]["above_frontier"] is None


def test_write_report(records, tmp_path):
    rows, paths = write_report(records, str(tmp_path))
    with open(paths["csv"], newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == COLUMNS and len(table) == len(rows) == 7
    data = json.loads(open(paths["json"]).read())  # strict JSON: NaN written as null
    assert data[0]["strategy"] == "full"
    assert any(r["p_vs_random"] is None for r in data)
    for key in ("speedup_plot", "accuracy_plot"):
        assert open(paths[key], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    text = format_table(rows)
    assert "gradmatch" in text and "80.00 ± 0.00" in text and "3/3" in text


def test_write_report_without_matplotlib(records, tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "Figure", None)
    with pytest.warns(RuntimeWarning, match="matplotlib"):
        rows, paths = write_report(records, str(tmp_path))
    assert set(paths) == {"csv", "json"} and len(rows) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.json"]


def test_split_of_the_run_and_forward_rows():
    runs = []
    for s in range(2):
        r = rec("gradmatch", s, 0.8, 10.0, budget=0.1, gradients=1.0, solver=2.0 + s)
        r["timing"].update(setup=0.0, warm_start=4.0, subset_training=3.0 - s)
        r.update(n_forward=1000 + 1000 * s, n_harvested=4000)
        runs.append(r)
    old = rec("random", 0, 0.7, 10.0, budget=0.1)  # a record from before the new keys
    diverged = rec("craig", 0, 0.1, 1.0, budget=0.1)
    diverged.update(diverged="NaN", timing={"total": 1.0})
    rows = {r["strategy"]: r for r in summarize(runs + [old, diverged, rec("full", 0, 0.9, 10.0,
                                                                          epochs=10)])}
    gm = rows["gradmatch"]
    assert gm["warm_start_share"] == pytest.approx(0.4)
    assert gm["subset_training_share"] == pytest.approx(0.25)
    assert gm["gradients_share"] == pytest.approx(0.1)
    assert gm["solver_share"] == pytest.approx(0.25)
    assert gm["gradients_share"] + gm["solver_share"] == pytest.approx(gm["selection_share"])
    assert gm["n_forward"] == 1500 and gm["n_harvested"] == 4000
    assert rows["random"]["n_forward"] is None and rows["random"]["warm_start_share"] == 0
    assert rows["craig"]["warm_start_share"] is None  # diverged: no split
    assert rows["full"]["warm_start_share"] is None and rows["full"]["n_forward"] is None
    lines = format_table(list(rows.values())).splitlines()
    header = lines[0]
    assert "split %" in header and "fwd rows" in header
    line = next(x for x in lines if x.startswith("gradmatch"))
    assert "40/25/10/25" in line and " 1500 " in line
    full = next(x for x in lines if x.startswith("full"))
    assert "/" not in full.replace("±", "")


def test_printed_table_fits_120_columns(records):
    """The printed table fits 120 characters: empty columns first, then the least telling ones
    are left out (and named); without a width every column is shown."""
    for r in records:
        if r["strategy"] == "gradmatch":
            r["strategy"] = "gradmatch-pc-warm+R10pool30fast"  # a long tagged name
            r.update(n_forward=1000, n_harvested=4000)
            r["timing"].update(setup=0.0, warm_start=1.0, subset_training=1.0)
    rows = summarize(records)
    full = format_table(rows).splitlines()
    assert all(h in full[0] for h in ("kWh", "fwd rows", "split %", "diverged", "free gain"))
    assert max(map(len, full)) > 120
    lines = format_table(rows, width=120).splitlines()
    assert max(map(len, lines)) <= 120
    header = lines[0].split()
    assert {"strategy", "budget", "acc", "sec", "gain", "p>front"} <= set(header)
    assert "kWh" not in header and "diverged" not in header  # nothing to show
    assert lines[-1].startswith("(left out here: fwd rows") and "summary.csv" in lines[-1]
    assert len(lines) == len(full) + 1
    wide = format_table(rows, width=1000).splitlines()
    assert "fwd rows" in wide[0] and "kWh" not in wide[0] and len(wide) == len(full)
