"""Draw the figures of the benchmarks page from its tables.

Every finding of ``docs/benchmarks.md`` keeps its measured numbers in one CSV file under
``docs/data/`` (one row per measured configuration, with the device, the date and the command
that measured it); this script reads them and writes one figure per finding,
``docs/figures/findings_<name>.png``. Run from the repository root::

    python examples/benchmarks/plot_findings.py

``--data`` and ``--out`` choose other folders and ``--only NAME ...`` draws some findings only.
A CSV this script has no drawing for is drawn as accuracy against cost, when it has the columns
for it (``strategy``, ``accuracy_mean``, ``accuracy_std`` and one of ``cost_epochs``,
``cpu_seconds``, ``seconds``; rows of the strategy ``full-frontier`` make the frontier); any other
is an error. Needs matplotlib only.
"""

import argparse
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

FIGSIZE = (8, 5)  # inches: one panel
WIDE = (11, 5)  # two panels side by side
DPI = 120
STYLE = {
    "font.size": 14, "axes.titlesize": 15, "axes.labelsize": 15, "xtick.labelsize": 13,
    "ytick.labelsize": 13, "legend.fontsize": 12, "axes.grid": True, "grid.alpha": 0.3,
    "lines.linewidth": 2, "lines.markersize": 9, "errorbar.capsize": 4,
}
COLORS = plt.get_cmap("tab10").colors + tuple(plt.get_cmap("Dark2").colors)
MARKERS = "osD^vP*Xhp<>"
FRONTIER = dict(color="black", marker="o", linestyle="-", label="full training, fewer epochs "
                "(the frontier)")


def _f(value):
    """A cell as a float (``None`` when empty); a leading ``+`` is accepted."""
    value = (value or "").strip()
    return float(value) if value else None


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _figure(size=FIGSIZE, ncols=1):
    fig, axes = plt.subplots(1, ncols, figsize=size, layout="constrained", squeeze=False,
                             sharey=True)
    return fig, axes[0] if ncols > 1 else axes[0][0]


def _logx(ax, ticks=None):
    """A logarithmic x axis labelled in plain numbers (1, 2, 5, 10, ...)."""
    ax.set_xscale("log")
    if ticks is not None:
        ax.set_xticks(ticks)
    else:
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend_below(fig, ax, ncol=2):
    """The legend under the axes, so that it hides no point; the figure grows to hold it."""
    handles, labels = ax.get_legend_handles_labels()
    rows = math.ceil(len(labels) / ncol)
    fig.set_figheight(fig.get_figheight() + 0.32 * rows)
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def _frontier(ax, rows, x, y="accuracy_mean", yerr="accuracy_std", **style):
    pts = sorted((_f(r[x]), _f(r[y]), _f(r[yerr]) or 0.0) for r in rows if _f(r[x]) is not None)
    xs, ys, es = zip(*pts)
    ax.errorbar(xs, ys, yerr=es, **{**FRONTIER, **style})


def _point(ax, i, x, y, yerr=None, label=None, **style):
    ax.errorbar([x], [y], yerr=None if yerr is None else [yerr], linestyle="none",
                color=COLORS[i % len(COLORS)], marker=MARKERS[i % len(MARKERS)], label=label,
                **style)


def _dotplot(ax, groups, series, ylabel, zero_label):
    """Each series (label -> {group: value}) as markers beside each other within each group,
    against a line at zero."""
    width = 0.8 / max(len(series), 1)
    for i, (label, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g, name in enumerate(groups)
              if values.get(name) is not None]
        ys = [values[name] for name in groups if values.get(name) is not None]
        ax.plot(xs, ys, linestyle="none", marker=MARKERS[i % len(MARKERS)],
                color=COLORS[i % len(COLORS)], label=label, markersize=10)
    ax.axhline(0, color="black", linewidth=2, label=zero_label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    ax.grid(axis="x", visible=False)


def _hbars(ax, labels, series, reference, xlabel):
    """Horizontal bars, one group per label and one bar per series (name -> values)."""
    height = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ys = [j + (i - (len(series) - 1) / 2) * height for j in range(len(labels))]
        ax.barh(ys, values, height=height, color=COLORS[i], label=name)
    ax.axvline(reference, color="black", linewidth=1.5)
    _rows_axis(ax, labels, xlabel)


def _rows_axis(ax, labels, xlabel):
    """One labelled row per item, the first at the top, and the values along x."""
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)


# -- one drawing per finding ------------------------------------------------------------------

def plot_solver_vs_cords(rows):
    labels, speed, error = [], [], []
    for r in rows:
        ours_s = _f(r["sksubset_at_cords_atoms_s"]) or _f(r["sksubset_s"])
        ours_e = _f(r["sksubset_at_cords_atoms_rel_error"]) or _f(r["sksubset_rel_error"])
        labels.append(f"{r['matrix']} {int(r['n']):,} x {r['d']}")
        speed.append(_f(r["cords_s"]) / ours_s)
        error.append(_f(r["cords_rel_error"]) / ours_e)
    fig, ax = _figure()
    _hbars(ax, labels, {"CORDS's time / sksubset's": speed,
                        "CORDS's error / sksubset's": error}, 1.0,
           "ratio at CORDS's atom count (> 1: sksubset better)")
    ax.set_title("sksubset's OMP against CORDS, like for like")
    _legend_below(fig, ax)
    return fig


def plot_solver_settings(rows):
    rows = [r for r in rows if _f(r["speedup"]) is not None]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    fig, ax = _figure((8, 5.5))
    ax.axhspan(0.9, 1.1, color="grey", alpha=0.15, label="within 1.1x of the exact error")
    for r in rows:
        i = settings.index(r["setting"])
        ax.plot(_f(r["speedup"]), _f(r["error_over_exact"]), linestyle="none",
                marker="o" if r["problem"].startswith("per-class") else "s", markersize=10,
                color=COLORS[i % len(COLORS)],
                markerfacecolor=COLORS[i % len(COLORS)] if r["problem"].startswith("per-class")
                else "none", markeredgewidth=2)
    for i, s in enumerate(settings):
        label = s.replace(" (default)", "")
        if label.startswith("CORDS"):
            label = "CORDS (dense only)"
        ax.plot([], [], linestyle="none", marker="o", color=COLORS[i % len(COLORS)], label=label)
    ax.plot([], [], "ko", label="filled: per-class round")
    ax.plot([], [], "ks", markerfacecolor="none", label="open: dense, k = 1000")
    _logx(ax, [1, 2, 5, 10])
    ax.set_xlabel("speedup over the exact greedy search (CPU time)")
    ax.set_ylabel("error / exact search's error")
    ax.set_title("Making a selection round cheaper")
    _legend_below(fig, ax)
    return fig


def plot_omp_rule(rows):
    labels = [f"{r['matrix'].replace(', per example', '').replace('Fashion-MNIST ', 'F-MNIST ')}"
              for r in rows]
    fig, ax = _figure()
    _hbars(ax, labels, {"gain rule (default)": [_f(r["gain_over_cords"]) for r in rows],
                        "correlation rule": [_f(r["correlation_over_cords"]) for r in rows]},
           1.0, "objective / CORDS's objective (< 1: better)")
    ax.set_title("Objective of each OMP rule on real gradients")
    _legend_below(fig, ax)
    return fig


def _accuracy_vs_cost(rows, x, title, xlabel, frontier_strategy="full-frontier", log=True,
                      ylabel="test accuracy (%)", y="accuracy_mean", yerr="accuracy_std"):
    fig, ax = _figure()
    frontier = [r for r in rows if r["strategy"] == frontier_strategy]
    if frontier:
        _frontier(ax, frontier, x, y, yerr)
    others = [r for r in rows if r["strategy"] != frontier_strategy and _f(r[x]) is not None]
    for i, r in enumerate(others):
        _point(ax, i, _f(r[x]), _f(r[y]), _f(r[yerr]), label=r["strategy"])
    if log:
        _logx(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_below(fig, ax)
    return fig


def plot_digits_strategies(rows):
    rows = [r for r in rows if r["table"] == "10 seeds, 10%"]
    return _accuracy_vs_cost(rows, "seconds", "Digits at 10%, 10 seeds",
                             "seconds per run (wall-clock, loaded machine)")


def plot_fmnist_same_time(rows):
    rows = [r for r in rows if r["budget"] in ("", "0.1")]
    return _accuracy_vs_cost(rows, "seconds", "Fashion-MNIST, LeNet-5, 10%, 5 seeds",
                             "seconds per run (wall-clock, one thread)")


def plot_fmnist_rounds_grid(rows):
    fig, ax = _figure()
    _frontier(ax, [r for r in rows if r["runner_strategy"] == "full-frontier"], "cpu_seconds")
    rows = [r for r in rows if r["budget"] == "0.1"]
    single = [("RANDOM-WARM", lambda r: r["runner_strategy"] == "random-warm"),
              ("RS2", lambda r: r["runner_strategy"] == "random-rs2"),
              ("GRAD-MATCH, exact solver, R = 20", lambda r: r["solver"] == "exact")]
    for i, (label, keep) in enumerate(single):
        r = next(r for r in rows if keep(r))
        _point(ax, i, _f(r["cpu_seconds"]), _f(r["accuracy_mean"]), _f(r["accuracy_std"]),
               label=label)
    for i, (label, cand) in enumerate((("GRAD-MATCH, every example, R = 20 ... 1", "all"),
                                       ("GRAD-MATCH, 30% cycling pool, R = 20 ... 1", "30%")),
                                      start=len(single)):
        series = [r for r in rows if r["candidates"].startswith(cand) and r["solver"] == "fast"]
        xs = [_f(r["cpu_seconds"]) for r in series]
        ax.errorbar(xs, [_f(r["accuracy_mean"]) for r in series],
                    yerr=[_f(r["accuracy_std"]) for r in series], color=COLORS[i],
                    marker=MARKERS[i], linestyle=":", label=label)
        for r, x in zip(series, xs):
            ax.annotate(f"R={r['R']}", (x, _f(r["accuracy_mean"])), textcoords="offset points",
                        xytext=(6, -16 if cand == "all" else 8), fontsize=11, color=COLORS[i])
    _logx(ax, [20, 50, 100, 200])
    ax.set_xlim(20, 260)
    ax.set_ylim(87.5, 91.5)
    ax.set_xlabel("CPU seconds per run (one thread)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST at 10%: rounds more often, from a pool")
    _legend_below(fig, ax, ncol=1)
    return fig


def _pct(budget):
    return f"{float(budget) * 100:g}%"


def _distances(groups, series, title):
    """A dot plot of each configuration's distance to the frontier in each group."""
    fig, ax = _figure((8, 5.5))
    _dotplot(ax, groups, series, "accuracy − frontier's at the same cost (points)",
             "full training cut to the same cost")
    ax.set_title(title)
    _legend_below(fig, ax, ncol=1)
    return fig


def plot_defaults(rows):
    names = {"fashion-mnist": "F-MNIST", "mnist1d": "MNIST-1D"}
    groups = list(dict.fromkeys(f"{names[r['dataset']]}\n{_pct(r['budget'])}" for r in rows))
    series = {}
    for r in rows:
        label = r["configuration"]
        series.setdefault(label, {})[f"{names[r['dataset']]}\n{_pct(r['budget'])}"] = _f(
            r["distance_to_frontier"])
    return _distances(groups, series, "The defaults against the frontier, two data sets")


def plot_digits_constant_lr(rows):
    rows = [r for r in rows if not r["note"]]
    fig, ax = _figure((8, 5.5))
    for i, r in enumerate(rows):
        ax.errorbar([_f(r["accuracy_mean"])], [i], xerr=[_f(r["accuracy_std"])],
                    color=COLORS[i % len(COLORS)], marker="o", linestyle="none")
        ax.plot(_f(r["worst"]), i, marker="x", color=COLORS[i % len(COLORS)], markersize=10,
                markeredgewidth=2)
    ax.plot([], [], "kx", markersize=10, markeredgewidth=2, label="worst of 20 seeds")
    ax.errorbar([], [], xerr=[], color="black", marker="o", linestyle="none",
                label="mean ± std over 20 seeds")
    ax.axvline(90, color="grey", linestyle="--", linewidth=1.5, label="90%")
    short = {"the default (pool_factor=3, sampling=\"cycle\")": "the default",
             "every example a candidate (pool_factor=None, the former default)":
             "every example (the former default)",
             "every example a candidate, weighting=\"none\"": "every example, weighting=\"none\"",
             "per_step=16 (every example, 16 atoms a step)": "every example, per_step=16",
             "the exact search, GradMatchSelector()": "the exact search",
             "every example a candidate (pool_factor=None)": "every example",
             "the exact search (pool_factor=None, criterion=\"gain\", per_step=1)":
             "the exact search"}
    _rows_axis(ax, [short.get(r["configuration"], r["configuration"]) for r in rows],
               "test accuracy (%)")
    ax.set_title("Digits, 10%, constant learning rate 0.1")
    _legend_below(fig, ax, ncol=3)
    return fig


def plot_training_rounds(rows):
    names = {"fashion-mnist": "Fashion-MNIST, 10%", "mnist1d": "MNIST-1D, 10%"}
    groups = list(dict.fromkeys(names[r["dataset"]] for r in rows))
    series = {}
    for r in rows:
        label = r["configuration"]
        if r["library"].startswith("pools taking"):
            label += ", trained rows first"
        elif r["library"].startswith("a fresh"):
            label += ", a fresh pass every round"
        series.setdefault(label, {})[names[r["dataset"]]] = _f(r["distance_to_frontier"])
    return _distances(groups, series, "Rounds from what training computed")


def plot_weighting(rows):
    fig, axes = _figure(WIDE, ncols=2)
    for ax, schedule in zip(axes, ("cosine", "constant")):
        sub = [r for r in rows if r["dataset"] == "digits" and r["schedule"] == schedule]
        gm = [r for r in sub if r["strategy"] == "gradmatch-pc"]
        rnd = [r for r in sub if r["strategy"] == "random"]
        lrs = [_f(r["lr"]) for r in gm]
        for i, w in enumerate(("batch", "subset", "none")):
            ax.errorbar([lr * (1 + 0.06 * (i - 1)) for lr in lrs],
                        [_f(r[f"{w}_mean"]) for r in gm], yerr=[_f(r[f"{w}_std"]) for r in gm],
                        color=COLORS[i], marker=MARKERS[i], label=f'GRAD-MATCH per class, "{w}"')
        ax.errorbar([_f(r["lr"]) for r in rnd], [_f(r["unweighted_mean"]) for r in rnd],
                    yerr=[_f(r["unweighted_std"]) for r in rnd], color="black", linestyle="--",
                    marker="o", label="RANDOM (unweighted)")
        _logx(ax, [0.01, 0.03, 0.1, 0.3])
        ax.set_xlabel("learning rate")
        ax.set_title(f"digits, {'cosine annealing' if schedule == 'cosine' else 'constant rate'}")
    axes[0].set_ylabel("test accuracy (%)")
    _legend_below(fig, axes[0])
    return fig


def plot_one_shot_factored(rows):
    fig, ax = _figure()
    for r in rows:
        if not r["problem"].startswith("Fashion-MNIST"):
            continue
        i = 0 if r["path"] == "factored" else 1
        ax.plot(_f(r["seconds"]), _f(r["peak_memory_mib"]), linestyle="none",
                marker="o" if r["dtype"] == "float32" else "s", color=COLORS[i], markersize=12,
                label=f"{r['path']}, {r['dtype']}")
    ax.set_xlabel("seconds (CPU, one thread)")
    ax.set_ylabel("peak memory of the selection (MiB)")
    ax.set_xlim(0, None)
    ax.set_ylim(0, None)
    ax.set_title("One-shot selection, Fashion-MNIST, LeNet-5")
    _legend_below(fig, ax)
    return fig


def plot_data_parallel(rows):
    fig, ax = _figure()
    for i, r in enumerate(rows):
        fits = f"{r['fit_s_first_run']}–{r['fit_s_second_run']} s"
        _point(ax, i, i, _f(r["accuracy_mean"]) * 100, _f(r["accuracy_std"]) * 100,
               label=f"{r['run']} (fit: {fits})")
    ax.set_xticks(range(len(rows)), [f"{r['processes']} process"
                                     + ("es" if r["processes"] != "1" else "") for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Digits, data-parallel selection and training")
    ax.grid(axis="x", visible=False)
    _legend_below(fig, ax, ncol=1)
    return fig


def plot_selector_memory(rows):
    labels, values, lo, hi = [], [], [], []
    for r in rows:
        labels.append(f"{r['library'].split(' (')[0]}, ({int(r['n']):,}, {r['d']}), "
                      f"k = {int(r['budget_k']):,}")
        v = _f(r["added_over_input"])
        values.append(v)
        lo.append(v - (_f(r["added_over_input_min"]) or v))
        hi.append((_f(r["added_over_input_max"]) or v) - v)
    fig, ax = _figure()
    ax.barh(range(len(rows)), values, xerr=[lo, hi], color=COLORS[0], height=0.6)
    ax.axvline(2, color="black", linestyle="--", label="goal: at most 2x")
    _rows_axis(ax, labels, "memory added by fit / input's size")
    ax.set_title("Memory of a standalone GradMatchSelector().fit(G)")
    _legend_below(fig, ax, ncol=1)
    return fig


def plot_dataset_memory(rows):
    selectors = list(dict.fromkeys(r["selector"] for r in rows))
    inputs = list(dict.fromkeys(r["input"] for r in rows))
    fig, ax = _figure()
    width = 0.8 / len(inputs)
    for i, name in enumerate(inputs):
        xs = [j + (i - (len(inputs) - 1) / 2) * width for j in range(len(selectors))]
        sub = [next(r for r in rows if r["selector"] == s and r["input"] == name)
               for s in selectors]
        ax.bar(xs, [_f(r["peak_rss_in_fit_mib"]) for r in sub], width=width, color=COLORS[i],
               label=f"{name}: peak in fit")
        ax.bar(xs, [_f(r["rss_before_fit_mib"]) for r in sub], width=width, color="white",
               alpha=0.45, hatch="//", edgecolor=COLORS[i])
    ax.set_xticks(range(len(selectors)), selectors)
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title("One selection round on Fashion-MNIST")
    ax.grid(axis="x", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="white", hatch="//", edgecolor="grey"))
    labels.append("resident before fit (hatched)")
    fig.set_figheight(fig.get_figheight() + 0.64)
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    return fig


def plot_augmented_resnet(rows):
    rows = [r for r in rows if r["train_size"] == "15000"]
    fig, ax = _figure()
    _frontier(ax, [r for r in rows if r["strategy"] == "full-frontier"], "epochs")
    others = [r for r in rows if r["strategy"] != "full-frontier"]
    for i, r in enumerate(others):
        _point(ax, i, 2 + 0.08 * (i - 1), _f(r["accuracy_mean"]), _f(r["accuracy_std"]),
               label=f"{r['strategy']} (2 epochs' worth of examples"
               + (" + 2 rounds)" if "gradmatch" in r["strategy"] else ")"))
    ax.set_xlabel("cost (full-data epochs)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks([1, 2, 4])
    ax.set_title("Fashion-MNIST with augmentation, small ResNet, 10%")
    _legend_below(fig, ax, ncol=1)
    return fig


def plot_regression(rows):
    rows = [r for r in rows if r["table"] == "training" and r["budget"]]
    groups = list(dict.fromkeys(_pct(r["budget"]) for r in rows))
    series = {}
    for r in rows:
        label = (r["strategy"].replace("GRAD-MATCH, the classifier's default selector (`R = 5`, "
                                       "pool 3x)", "GRAD-MATCH, the classifier's default")
                 .replace(" (every example a candidate, 16 rows a step)", ", every example"))
        series.setdefault(label, {})[_pct(r["budget"])] = _f(r["distance_to_frontier"])
    fig, ax = _figure((8, 5.5))
    _dotplot(ax, groups, series, "R² − frontier's at the same cost (points)",
             "full training cut to the same CPU time")
    ax.set_xlabel("budget")
    ax.set_title("Regression, Friedman #1, 50 000 rows")
    _legend_below(fig, ax)
    return fig


def plot_tuning(rows):
    grids = list(dict.fromkeys(r["grid"] for r in rows))
    names = {"mnist1d": "MNIST-1D", "fashion-mnist": "Fashion-MNIST",
             "mnist1d-width": "MNIST-1D, with the width"}
    searches = list(dict.fromkeys(r["search"] for r in rows if not r["search"].startswith("full")))
    floor = -3.0
    fig, ax = _figure((8, 5.5))
    off_scale = []
    for r in rows:
        if r["search"].startswith("full"):
            continue
        i, g = searches.index(r["search"]), grids.index(r["grid"])
        x, y, e = _f(r["speedup_mean"]), _f(r["vs_reference_mean"]), _f(r["vs_reference_std"])
        x *= 1 + 0.03 * (g - 1)
        if y < floor:  # off the scale: drawn on its edge, with its value
            off_scale.append((x, y, i))
        else:
            ax.errorbar([x], [y], yerr=[e], color=COLORS[i], marker=MARKERS[g], linestyle="none")
    for k, (x, y, i) in enumerate(sorted(off_scale)):
        ax.plot(x, floor + 0.1, marker="v", color=COLORS[i], markersize=11)
        ax.annotate(f"{y:.0f}", (x, floor + 0.1), textcoords="offset points",
                    xytext=(0, 10 + 16 * (k % 2)), ha="center", fontsize=11, color=COLORS[i])
    for i, s in enumerate(searches):
        ax.plot([], [], linestyle="none", marker="s", color=COLORS[i], label=s)
    for g, name in enumerate(grids):
        ax.plot([], [], linestyle="none", marker=MARKERS[g], color="black",
                label=names.get(name, name))
    ax.axhline(0, color="black", linewidth=1.5, label="the full-data search's choice")
    ax.set_ylim(floor, 0.6)
    ax.set_xlabel("search speedup over the full-data search")
    ax.set_ylabel("choice's test accuracy − reference's (points)")
    ax.set_title("Tuning on subsets: the chosen configuration")
    _legend_below(fig, ax, ncol=2)
    return fig


def plot_accuracy_vs_cost(rows):
    """A CSV without its own drawing: accuracy against the first cost column it has (each point
    labelled with its budget too when the CSV holds several)."""
    cost = next(c for c in ("cost_epochs", "cpu_seconds", "seconds") if c in rows[0])
    if len({r.get("budget") for r in rows} - {None, ""}) > 1:
        rows = [dict(r, strategy=f"{r['strategy']}, {_pct(r['budget'])}") if r.get("budget")
                else r for r in rows]
    return _accuracy_vs_cost(rows, cost, "", cost.replace("_", " "), log=False)


PLOTS = {
    "solver_vs_cords": plot_solver_vs_cords,
    "solver_settings": plot_solver_settings,
    "omp_rule": plot_omp_rule,
    "digits_strategies": plot_digits_strategies,
    "fmnist_same_time": plot_fmnist_same_time,
    "fmnist_rounds_grid": plot_fmnist_rounds_grid,
    "defaults": plot_defaults,
    "digits_constant_lr": plot_digits_constant_lr,
    "training_rounds": plot_training_rounds,
    "weighting": plot_weighting,
    "one_shot_factored": plot_one_shot_factored,
    "data_parallel": plot_data_parallel,
    "selector_memory": plot_selector_memory,
    "dataset_memory": plot_dataset_memory,
    "augmented_resnet": plot_augmented_resnet,
    "regression": plot_regression,
    "tuning": plot_tuning,
    "selection_cost_tabular": None,  # the generic accuracy-against-cost plot
    "selection_cost_mnist1d": None,
    "selection_cost_fmnist": None,
}


def _drawing(name, rows):
    if PLOTS.get(name) is not None:
        return PLOTS[name]
    needed = {"strategy", "accuracy_mean", "accuracy_std"}
    if rows and needed <= set(rows[0]) and {"cost_epochs", "cpu_seconds", "seconds"} & set(rows[0]):
        return plot_accuracy_vs_cost
    raise ValueError(f"no drawing for {name}.csv: add one to PLOTS in {__file__}, or give it the "
                     "columns strategy, accuracy_mean, accuracy_std and a cost column "
                     "(cost_epochs, cpu_seconds or seconds)")


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(root, "docs", "data"),
                        help="folder of the findings' CSV files (default: docs/data)")
    parser.add_argument("--out", default=os.path.join(root, "docs", "figures"),
                        help="folder to write findings_<name>.png into (default: docs/figures)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="draw these findings only (CSV names without .csv)")
    args = parser.parse_args(argv)
    names = sorted(f[:-4] for f in os.listdir(args.data) if f.endswith(".csv"))
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"--only: no CSV named {', '.join(unknown)} in {args.data}; "
                         f"there are: {', '.join(names)}")
        names = [n for n in names if n in args.only]
    os.makedirs(args.out, exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        for name in names:
            rows = read_rows(os.path.join(args.data, f"{name}.csv"))
            fig = _drawing(name, rows)(rows)
            path = os.path.join(args.out, f"findings_{name}.png")
            fig.savefig(path, dpi=DPI, metadata={"Software": None})
            plt.close(fig)
            written.append(path)
            print(path)
    return written


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
