"""Plots of an experiment's summary: speedup versus relative error, accuracy versus time.

Both draw the full-data frontier (``full`` and ``full-frontier`` runs) as a
grey curve and name the data set, model and epoch budget in their title.
matplotlib is optional: without it :func:`write_plots` draws nothing and
warns.
"""

import math
import os
import warnings

import numpy as np

from .regression import score_of

try:  # the plots need matplotlib; without it the table, CSV and JSON are still written
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
except ImportError:  # pragma: no cover - depends on the environment
    Figure = None

__all__ = ["write_plots", "plot_speedup_error", "plot_accuracy_time", "describe_runs",
           "log_ticks", "RELATIVE_ERROR_NOTE"]

_FRONTIER = ("full", "full-frontier")


#: the y axis of the speedup plot, as written under it
RELATIVE_ERROR_NOTE = ("relative test error = 100 x (test error - test error of full training) / "
                       "test error of full training: 0 is as accurate as full training, 100 is "
                       "twice its error, below 0 better (axis logarithmic beyond ±1 %)")


def _plain():
    """Tick labels as plain numbers (2, 0.5, 1000, not 2x10^0)."""
    return FuncFormatter(lambda v, _: f"{v:g}")


def log_ticks(lo, hi):
    """Plain-number tick positions covering ``[lo, hi]`` on a log axis: 1-2-5 per decade,
    finer (1-1.5-2-3-5-7, then every digit) when the range is too narrow for three ticks."""
    lo, hi = float(lo), float(hi)
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [float(f"{m * 10.0 ** e:.3g}") for e in decades for m in mantissas]
        inside = [t for t in ticks if lo / 1.1 <= t <= hi * 1.1]
        if len(inside) >= 3:
            break
    return inside


def _log_axis(ax, values):
    """A log x axis with plain-number ticks (0.5, 2, 20, not 2x10^0) where ``values`` lie."""
    ax.set_xscale("log")
    values = [v for v in values if np.isfinite(v) and v > 0]
    if values:
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(min(values), max(values))))
    ax.xaxis.set_major_formatter(_plain())
    ax.xaxis.set_minor_formatter(NullFormatter())


def describe_runs(records):
    """``"digits, mlp, T = 60"``: the data set, model and epoch budget of the runs (values
    that differ between runs are joined by ``/``)."""
    parts = []
    for key, fmt in (("dataset", "{}"), ("model", "{}"), ("T", "T = {}")):
        values = {r.get("settings", {}).get(key) for r in records} - {None}
        if values:
            parts.append(fmt.format("/".join(str(v) for v in sorted(values, key=str))))
    return ", ".join(parts)


def _colors(names):
    """A distinct colour per strategy: tab20's strong colours, then its light ones."""
    cmap = colormaps["tab20"]
    return {n: cmap((2 * i + i // 10) % 20) for i, n in enumerate(names)}


def _suptitle(fig, parts, what):
    """``"digits, mlp, T = 60: <what>"``, on two lines when it is long (the legend stands
    beside the axes, and a centred title would run into it)."""
    parts = ", ".join(p for p in parts if p)
    text = f"{parts}: {what}" if parts else what
    fig.suptitle(text.replace(": ", ":\n", 1) if len(text) > 70 else text)


def _frontier_curve(rows):
    pts = sorted((r["seconds_mean"], r["accuracy_mean"], r["relative_error_pct"], r["speedup"])
                 for r in rows if r["strategy"] in _FRONTIER)
    return np.array(pts).reshape(-1, 4)


def plot_speedup_error(rows, path, title=""):
    """Figure-3-style panels, one per budget: speedup versus relative test error, log-log.

    The y axis is the relative test error of
    :func:`~sksubset.experiments.report.relative_error`, defined under the panels
    (:data:`RELATIVE_ERROR_NOTE`); it is symmetric-log,
    linear within ±1 %, so runs that beat full training (relative error <= 0)
    stay visible at or below zero instead of being dropped.  The full-data
    frontier is drawn as a grey curve.  ``title`` (e.g. :func:`describe_runs`)
    heads the figure; each panel names its budget.  Returns the figure.
    """
    budgets = sorted({r["budget"] for r in rows if r["budget"] is not None})
    fig = Figure(figsize=(4.5 * max(1, len(budgets)) + 2, 4), layout="constrained")
    axes = fig.subplots(1, max(1, len(budgets)), squeeze=False)[0]
    curve = _frontier_curve(rows)
    names = sorted({r["strategy"] for r in rows if r["budget"] is not None})
    colors = _colors(names)
    markers = "osD^v<>pPX*h"
    for ax, budget in zip(axes, budgets or [None]):
        ok = np.isfinite(curve[:, 2]) & np.isfinite(curve[:, 3])
        if ok.any():
            ax.plot(curve[ok, 3], curve[ok, 2], "-", color="0.6", marker=".",
                    label="full training, cosine\ncompressed to E (frontier)")
        for r in rows:
            if r["budget"] != budget or budget is None:
                continue
            if not (np.isfinite(r["speedup"]) and np.isfinite(r["relative_error_pct"])):
                continue
            i = names.index(r["strategy"])
            ax.plot(r["speedup"], r["relative_error_pct"], markers[i % len(markers)],
                    color=colors[r["strategy"]], label=r["strategy"], markersize=7)
        _log_axis(ax, [x for line in ax.get_lines() for x in np.ravel(line.get_xdata())])
        ax.set_yscale("symlog", linthresh=1.0)
        ax.yaxis.set_major_formatter(_plain())
        ys = [y for line in ax.get_lines() for y in np.ravel(line.get_ydata())]
        if ys:
            lo, hi = min(ys), max(ys)
            ax.set_ylim(-1.0 if lo >= 0 else lo * 1.5, 1.0 if hi <= 0 else hi * 1.5)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_xlabel("speedup versus full training")
        ax.set_ylabel("relative test error (%)")
        ax.set_title(f"budget {budget:g}" if budget is not None else "no subset runs")
        ax.grid(True, which="both", alpha=0.3)
    _suptitle(fig, [title], "speedup versus relative test error")
    fig.supxlabel(RELATIVE_ERROR_NOTE, fontsize=8)
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    fig.savefig(path, dpi=120)
    return fig


def plot_accuracy_time(records, rows, path, title=""):
    """Test accuracy versus wall-clock: every run, strategy means ± std, the frontier curve.

    ``title`` (e.g. :func:`describe_runs`) heads the figure with the budgets
    drawn; the legend lists what is drawn.  Returns the figure.
    """
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.subplots()
    groups = {}  # the runs of each summary row
    for r in records:
        groups.setdefault((r["strategy"], r["budget"], r["epochs"]), []).append(r)
    names = sorted({r["strategy"] for r in rows if r["strategy"] not in _FRONTIER})
    colors = _colors(names)
    budgets = sorted({r["budget"] for r in rows if r["budget"] is not None})
    markers = {b: "osD^v<>pPX*h"[i % 12] for i, b in enumerate(budgets)}
    curve = _frontier_curve(rows)
    for (strategy, budget, _), runs in groups.items():
        frontier = strategy in _FRONTIER
        color = "0.4" if frontier else colors[strategy]
        ax.scatter([r["fit_seconds"] for r in runs], [100 * score_of(r) for r in runs],
                   s=10, color=color, alpha=0.35, marker=markers.get(budget, "o"), lw=0)
    if len(curve):
        ax.plot(curve[:, 0], 100 * curve[:, 1], "-", color="0.3", marker="s", markersize=4,
                label="full training, cosine compressed to E (frontier)")
    for r in rows:
        if r["strategy"] in _FRONTIER:
            continue
        secs = [x["fit_seconds"] for x in groups[(r["strategy"], r["budget"], r["epochs"])]]
        ax.errorbar(r["seconds_mean"], 100 * r["accuracy_mean"], yerr=100 * r["accuracy_std"],
                    xerr=float(np.std(secs, ddof=1)) if len(secs) > 1 else 0.0,
                    fmt=markers.get(r["budget"], "o"), color=colors[r["strategy"]],
                    markersize=6, capsize=2)
    _log_axis(ax, [r["fit_seconds"] for r in records])
    cpu = any((r.get("settings") or {}).get("clock") == "cpu" for r in records)
    ax.set_xlabel(("CPU" if cpu else "wall-clock") + " seconds of fit (log)")
    score = "R²" if any("test_r2" in r for r in records) else "accuracy"
    ax.set_ylabel(f"test {score} (%)")
    ax.set_title("every run (small), means ± std over seeds (large)", fontsize=9)
    drawn = ("budgets " if len(budgets) > 1 else "budget ") + ", ".join(f"{b:g}" for b in budgets)
    _suptitle(fig, [title, drawn if budgets else ""],
              f"test {score} versus " + ("CPU time" if cpu else "wall-clock"))
    ax.grid(True, which="both", alpha=0.3)
    handles = []
    if len(curve):
        handles.append(Line2D([], [], color="0.3", marker="s", markersize=4,
                              label="full training,\ncosine compressed to E"))
    handles += [Line2D([], [], color=colors[n], marker="o", ls="", label=n) for n in names]
    handles += [Line2D([], [], color="k", marker=markers[b], ls="", mfc="none",
                       label=f"budget {b:g}") for b in budgets]
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.savefig(path, dpi=120)
    return fig


def write_plots(records, rows, out_dir):
    """Draw both plots into ``out_dir``; return their paths (``speedup_plot``,
    ``accuracy_plot``), or nothing, with a ``RuntimeWarning``, without matplotlib."""
    if Figure is None:
        warnings.warn("matplotlib is not installed: the plots were not drawn.", RuntimeWarning,
                      stacklevel=3)
        return {}
    paths = {"speedup_plot": os.path.join(out_dir, "speedup_vs_relative_error.png"),
             "accuracy_plot": os.path.join(out_dir, "accuracy_vs_time.png")}
    title = describe_runs(records)
    plot_speedup_error(rows, paths["speedup_plot"], title)
    plot_accuracy_time(records, rows, paths["accuracy_plot"], title)
    return paths
