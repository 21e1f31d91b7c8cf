"""Summary table and significance tests of an experiment's run records.

One row per strategy and budget (per ``E`` for ``full-frontier``), with
means over seeds:

* ``accuracy_mean`` ± ``accuracy_std`` (sample standard deviation) on the
  test set (on a regression data set, the coefficient of determination R²,
  where ``1 - R²`` plays the part of the error below, and ``rmse_mean``, the
  test RMSE); ``seconds_mean``: wall-clock of ``fit``, selection included;
* ``speedup``: ``seconds(full) / seconds`` (means);
* ``relative_error_pct``: the relative test error, the y axis of the
  speedup plot (after Figure 3 of the GRAD-MATCH paper):
  ``100 * (err - err_full) / err_full`` with ``err = 1 - accuracy_mean``, how
  much more test error than full training in percent of full training's
  (0: as accurate, 100: twice the error); negative when the run beats full
  training;
* ``selection_share``: (gradients + solver) / total of the classifier's timing;
* ``energy_kwh``: mean GPU energy when NVML could measure it, else blank;
* ``warm_start_seconds``, ``gradients_seconds``, ``solver_seconds``,
  ``subset_training_seconds``: the mean timing split (CSV and JSON only);
* ``warm_start_share``, ``subset_training_share``, ``gradients_share``,
  ``solver_share``: the same split as mean shares of each subset run's
  timing total (blank for the full-data runs); the printed table shows them
  as one ``split %`` cell, warm/subset/forward/solver, e.g. ``43/43/3/10``
  (the rest, up to 100, is setup);
* ``n_forward``, ``n_harvested``: mean over seeds of the rows that the
  selection rounds passed forward, and of those whose factors they took from
  training's own forward passes, summed over a run's rounds (blank when the
  classifier does not record them); the printed table's ``fwd rows``;
* ``p_vs_random``, ``p_vs_random_warm``: one-sided Wilcoxon signed-rank
  p-values (``scipy.stats.wilcoxon(..., alternative="greater")``) that the
  strategy's accuracy exceeds RANDOM's (RANDOM-WARM's) at the same budget,
  paired by seed, as in the paper's Table 6;
* ``above_frontier``, ``frontier_gain_pp``, ``p_vs_frontier``: every run is
  compared with full-data training at the same wall-clock, i.e. with the
  frontier of its own seed (its ``full-frontier`` runs and its ``full`` run,
  accuracy linearly interpolated in time; see :func:`frontier_accuracy`):
  how many runs lie above it, the mean difference in percentage points, and
  the one-sided Wilcoxon p-value that the runs lie above it;
* ``frontier_gain_free_pp``: the same difference with the selection rounds'
  time (gradients + solver) taken off each run, "the gain if selection were
  free": when it clears a goal that ``frontier_gain_pp`` misses, selection
  time is what limits the strategy, else the subsets' quality.

With ``n`` seeds the smallest possible one-sided signed-rank p-value is
``2**-n``: 0.125 with 3 seeds, 0.031 with 5, so 3 seeds can never reach 0.05.
The plots are drawn by :mod:`sksubset.experiments.plots`.
"""

import csv
import json
import math
import os
import textwrap
import warnings

import numpy as np
from scipy.stats import wilcoxon

from .plots import write_plots
from .regression import score_of

__all__ = ["relative_error", "frontier_accuracy", "wilcoxon_greater", "summarize",
           "format_table", "write_report", "COLUMNS", "SPLIT", "DROP_ORDER", "PRINT_WIDTH"]

#: table columns, in order
COLUMNS = ("strategy", "budget", "epochs", "n_seeds", "accuracy_mean", "accuracy_std",
           "seconds_mean", "speedup", "relative_error_pct", "selection_share", "energy_kwh",
           "full_epoch_equivalents", "n_selections", "mean_gradient_error", "n_diverged",
           "p_vs_random",
           "p_vs_random_warm", "above_frontier", "frontier_gain_pp", "p_vs_frontier",
           "frontier_gain_free_pp", "warm_start_seconds", "gradients_seconds", "solver_seconds",
           "subset_training_seconds", "warm_start_share", "subset_training_share",
           "gradients_share", "solver_share", "n_forward", "n_harvested", "rmse_mean")

#: the parts of a run's timing shown in the table's ``split %`` cell, in its order
SPLIT = ("warm_start", "subset_training", "gradients", "solver")

_NAN = float("nan")


def relative_error(accuracy, accuracy_full):
    """Relative test error in %: ``100 * (err - err_full) / err_full``, ``err = 1 - accuracy``.

    NaN when full training makes no error.
    """
    err, err_full = 1.0 - accuracy, 1.0 - accuracy_full
    if not err_full > 0:
        return _NAN
    return 100.0 * (err - err_full) / err_full


def frontier_accuracy(times, accuracies, t):
    """Accuracy of full-data training at wall-clock ``t``, from the frontier's points.

    Linear interpolation between the points sorted by time.  Beyond the
    slowest point the frontier keeps its accuracy (that accuracy was reached
    sooner); before the fastest one nothing is known and NaN is returned.
    """
    times, accuracies = np.asarray(times, float), np.asarray(accuracies, float)
    if len(times) == 0 or t < times.min():
        return _NAN
    order = np.argsort(times, kind="stable")
    return float(np.interp(t, times[order], accuracies[order]))


def wilcoxon_greater(x, y):
    """One-sided Wilcoxon signed-rank p-value that paired ``x`` exceed ``y``.

    Zero differences are dropped (scipy's default); no pair or no non-zero
    difference gives NaN or 1.0 respectively.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return _NAN
    if np.all(x == y):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(x, y, alternative="greater").pvalue)


def _key(r):
    if r["kind"] in ("full", "full-frontier"):
        return (r["strategy"], None, r["epochs"])
    if r["kind"] == "full-earlystop":
        return (r["strategy"], r["budget"], r["epochs"])
    return (r["strategy"], r["budget"], None)


def _groups(records):
    groups = {}
    for r in records:
        groups.setdefault(_key(r), []).append(r)
    return groups


def _by_seed(runs):
    return {r["seed"]: score_of(r) for r in runs}


def _paired_p(runs, reference):
    if not reference:
        return _NAN
    a, b = _by_seed(runs), _by_seed(reference)
    seeds = sorted(set(a) & set(b))
    return wilcoxon_greater([a[s] for s in seeds], [b[s] for s in seeds]) if seeds else _NAN


def _frontiers(records):
    """Per seed: (times, accuracies) of its full-frontier and full runs."""
    out = {}
    for r in records:
        if r["kind"] in ("full", "full-frontier"):
            times, accs = out.setdefault(r["seed"], ([], []))
            times.append(r["fit_seconds"])
            accs.append(score_of(r))
    return out


def _mean(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else None


def _seconds_without_selection(r):
    t = r["timing"]
    share = (t.get("gradients", 0.0) + t.get("solver", 0.0)) / t["total"] if t.get("total") else 0
    return r["fit_seconds"] * (1 - share)


def _against_frontier(runs, frontiers, seconds):
    """Accuracies of the runs and of their seed's frontier at ``seconds(run)``, where known."""
    pairs = [(score_of(r), frontier_accuracy(*frontiers[r["seed"]], seconds(r)))
             for r in runs if r["seed"] in frontiers]
    pairs = [(a, f) for a, f in pairs if not math.isnan(f)]
    return np.array(pairs).T if pairs else (np.array([]), np.array([]))


def summarize(records):
    """The summary rows (dicts with :data:`COLUMNS`) of a list of run records."""
    groups = _groups(records)
    full = next((runs for (s, _, _), runs in groups.items() if s == "full"), None)
    t_full = _mean([r["fit_seconds"] for r in full]) if full else None
    acc_full = _mean([score_of(r) for r in full]) if full else None
    frontiers = _frontiers(records)
    has_frontier = any(r["kind"] == "full-frontier" for r in records)
    rows = []
    for (strategy, budget, epochs), runs in groups.items():
        acc = np.array([score_of(r) for r in runs])
        secs = _mean([r["fit_seconds"] for r in runs])
        shares = [(r["timing"].get("gradients", 0.0) + r["timing"].get("solver", 0.0))
                  / r["timing"]["total"] for r in runs if r["timing"].get("total")]
        row = {"strategy": strategy, "budget": budget, "epochs": epochs, "n_seeds": len(runs),
               "accuracy_mean": float(acc.mean()),
               "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
               "seconds_mean": secs,
               "speedup": t_full / secs if t_full and secs else _NAN,
               "relative_error_pct": (relative_error(acc.mean(), acc_full)
                                      if acc_full is not None else _NAN),
               "selection_share": _mean(shares),
               "energy_kwh": _mean([r.get("energy_kwh") for r in runs]),
               "full_epoch_equivalents": _mean([r["full_epoch_equivalents"] for r in runs]),
               "n_selections": _mean([r["n_selections"] for r in runs]),
               "mean_gradient_error": _mean([r.get("mean_gradient_error") for r in runs]),
               "n_diverged": sum(bool(r.get("diverged")) for r in runs),
               "p_vs_random": _NAN, "p_vs_random_warm": _NAN, "above_frontier": None,
               "frontier_gain_pp": _NAN, "p_vs_frontier": _NAN, "frontier_gain_free_pp": _NAN}
        for part in ("warm_start", "gradients", "solver", "subset_training"):
            row[f"{part}_seconds"] = _mean([r["timing"].get(part, 0.0) for r in runs])
        timed = [r["timing"] for r in runs if r["kind"] == "subset" and not r.get("diverged")
                 and r["timing"].get("total")]
        for part in SPLIT:
            row[f"{part}_share"] = _mean([t.get(part, 0.0) / t["total"] for t in timed])
        for key in ("n_forward", "n_harvested"):
            row[key] = _mean([r.get(key) for r in runs])
        row["rmse_mean"] = _mean([r.get("test_rmse") for r in runs])
        if budget is not None:
            for col, ref in (("p_vs_random", "random"), ("p_vs_random_warm", "random-warm")):
                if strategy != ref:
                    row[col] = _paired_p(runs, groups.get((ref, budget, None)))
        if has_frontier and runs[0]["kind"] not in ("full", "full-frontier"):
            a, f = _against_frontier(runs, frontiers, lambda r: r["fit_seconds"])
            if len(a):
                row["above_frontier"] = f"{int(np.sum(a > f))}/{len(a)}"
                row["frontier_gain_pp"] = float(100 * np.mean(a - f))
                row["p_vs_frontier"] = wilcoxon_greater(a, f)
            a, f = _against_frontier(runs, frontiers, _seconds_without_selection)
            if len(a):
                row["frontier_gain_free_pp"] = float(100 * np.mean(a - f))
        rows.append(row)
    order = {"full": 0, "full-frontier": 1, "full-earlystop": 3}
    rows.sort(key=lambda r: (r["budget"] is not None, r["budget"] or 0,
                             order.get(r["strategy"], 4), r["strategy"], r["epochs"] or 0))
    return rows


def _fmt(value, spec):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, spec) if spec else str(value)


def _split(row):
    """The ``split %`` cell: the run's shares in :data:`SPLIT` order, e.g. ``43/43/3/10``."""
    shares = [row.get(f"{part}_share") for part in SPLIT]
    if any(v is None for v in shares):
        return ""
    return "/".join(f"{100 * v:.0f}" for v in shares)


#: the printed table's columns left out first when it must fit a width, in this order
DROP_ORDER = ("kWh", "fwd rows", "free gain", "p>rand", "split %", "seeds", "rel.err %",
              "sel.share", "p>rand-w", "speedup", "diverged", "p>front", ">front", "RMSE")

#: the width of the table :func:`sksubset.experiments.run_experiment` prints
PRINT_WIDTH = 120


def format_table(rows, width=None):
    """The summary rows as an aligned plain-text table.

    Its ``split %`` column gives the shares of a subset run spent in warm start,
    subset epochs, forward passes of the selection rounds and the solver; ``fwd
    rows`` the rows those forward passes covered (:data:`COLUMNS`).  On a
    regression data set the score column is ``R2 %`` (100 R²) and an ``RMSE``
    column follows it.

    Parameters
    ----------
    rows : list of dict
        :func:`summarize`'s rows.
    width : int, optional
        Fit the table in this many characters a line: columns with nothing to show
        (``kWh`` without NVML, ``diverged`` when no run diverged) are left out, then
        others in :data:`DROP_ORDER` until it fits, and a last line names those left
        out (all of them are in ``summary.csv``).  Default: every column.
    """
    regression = any(r.get("rmse_mean") is not None for r in rows)
    cols = [("strategy", "strategy", ""), ("budget", "budget", "g"), ("E", "epochs", ""),
            ("seeds", "n_seeds", ""), ("diverged", "n_diverged", ""),
            ("R2 %" if regression else "acc %", None, None)]
    cols += [("RMSE", "rmse_mean", ".4f")] if regression else []
    cols += [("sec", "seconds_mean", ".2f"),
            ("speedup", "speedup", ".2f"), ("rel.err %", "relative_error_pct", ".1f"),
            ("sel.share", "selection_share", ".2f"), ("split %", "split", None),
            ("fwd rows", "n_forward", ".0f"), ("kWh", "energy_kwh", ".2e"),
            ("p>rand", "p_vs_random", ".3f"), ("p>rand-w", "p_vs_random_warm", ".3f"),
            (">front", "above_frontier", ""), ("gain pp", "frontier_gain_pp", "+.2f"),
            ("p>front", "p_vs_frontier", ".3f"), ("free gain", "frontier_gain_free_pp", "+.2f")]
    lines = [[c[0] for c in cols]]
    for r in rows:
        line = []
        for _, key, spec in cols:
            if key is None:
                line.append(f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}")
            elif key == "split":
                line.append(_split(r))
            else:
                line.append(_fmt(r[key], spec))
        lines.append(line)
    columns = list(zip(*lines))  # each: (header, cell, cell, ...)
    left_out = []
    if width is not None:
        for header, *cells in list(columns):
            if all(c in ("", "0") if header == "diverged" else c == "" for c in cells):
                columns.remove((header, *cells))
        for header in DROP_ORDER:
            if len(_aligned(columns)[0]) <= width:
                break
            column = next((c for c in columns if c[0] == header), None)
            if column is not None:
                columns.remove(column)
                left_out.append(header)
    text = _aligned(columns)
    text.insert(1, "-" * len(text[0]))
    if left_out:
        text += textwrap.wrap(f"(left out here: {', '.join(left_out)}; every column is in "
                              "summary.csv)", width)
    return "\n".join(text)


def _aligned(columns):
    """The lines of a table given as columns (header first), the first column to the left."""
    widths = [max(len(cell) for cell in column) for column in columns]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths)))
            for line in zip(*columns)]


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_report(records, out_dir):
    """Write ``summary.csv``, ``summary.json`` and the two PNG plots into ``out_dir``.

    The plots are drawn by :func:`sksubset.experiments.plots.write_plots`
    (left out, with a ``RuntimeWarning``, without matplotlib).

    Parameters
    ----------
    records : list of dict
        Run records (:func:`sksubset.experiments.runner.train_run`).
    out_dir : str

    Returns
    -------
    rows : list of dict
        The summary rows.
    paths : dict
        ``csv``, ``json``, ``speedup_plot`` and ``accuracy_plot`` file paths (the
        last two only when the plots were drawn).
    """
    os.makedirs(out_dir, exist_ok=True)
    rows = summarize(records)
    paths = {"csv": os.path.join(out_dir, "summary.csv"),
             "json": os.path.join(out_dir, "summary.json")}
    with open(paths["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "" if _jsonable(r[k]) is None else r[k] for k in COLUMNS})
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump([{k: _jsonable(r[k]) for k in COLUMNS} for r in rows], f, indent=1)
    paths.update(write_plots(records, rows, out_dir))
    return rows, paths
