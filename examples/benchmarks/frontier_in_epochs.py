"""Read the runner's records in full-data epochs, so that a drifting machine speed cancels.

On a machine whose speed drifts during a long experiment, seconds measured an hour apart do not
compare. This script gives each subset run's cost in its own full-data epochs (its CPU time
divided by that of one of its own warm-start epochs; a run without warm start borrows those of
the RANDOM-WARM run of its seed, of its own tag where there is one), reads the frontier (full
training with its schedule compressed to ``E`` epochs) at that cost by linear interpolation
between its ``E``, seed by seed, and prints a Markdown table: accuracy, cost, the difference
with the frontier (seeds above it, one-sided Wilcoxon p), the selection share, the difference
with selection counted free, and the difference with the frontier read by linear interpolation
in ``log E`` instead of ``E``: the frontier is concave, so a straight line between two of its
``E`` lies below it, most where it bends (a few epochs), and the second reading shows how much
that flatters the subset runs.

    python examples/benchmarks/frontier_in_epochs.py results/fmnist --budgets 0.05 0.1 0.3
"""

import argparse
import glob
import json
import math
import os
import warnings
from collections import defaultdict

import numpy as np
from scipy.stats import wilcoxon


def warm_epochs(run):
    """Full-data warm-start epochs of a subset run (its T, kappa and budget)."""
    st = run["settings"]
    return math.ceil(math.floor(st["kappa"] * st["T"] + 1e-9) * run["budget"])


def readings(out, budget=0.1):
    """Each subset strategy's per-seed readings ``(accuracy, cost, frontier, share, frontier
    with selection free, frontier in log E)`` and the frontier's accuracies ``{seed: {E: acc}}``."""
    runs = [json.load(open(f)) for f in glob.glob(os.path.join(out, "runs", "*.json"))]
    front = defaultdict(dict)
    for r in runs:
        if r["kind"] == "full-frontier":
            front[r["seed"]][r["epochs"]] = r["test_accuracy"]

    def frontier_at(seed, e, log=False):
        points = sorted(front[seed].items())
        if not points or not points[0][0] <= e <= points[-1][0]:
            return np.nan
        xs, ys = (np.array(c, dtype=float) for c in zip(*points))
        return float(np.interp(np.log(e), np.log(xs), ys) if log else np.interp(e, xs, ys))

    runs = [r for r in runs if r["kind"] == "subset" and r.get("budget") == budget]
    speed = {(r["seed"], r["strategy"]): r["timing"]["warm_start"] / warm_epochs(r)
             for r in runs if r["timing"].get("warm_start")}
    by = defaultdict(list)
    for r in runs:
        tag = r["strategy"].partition("+")[2]  # runs of one tag were measured together
        per_epoch = (speed.get((r["seed"], r["strategy"]))
                     or speed.get((r["seed"], f"random-warm+{tag}"))
                     or speed.get((r["seed"], "random-warm")))
        if per_epoch is None:
            continue
        cost, t = r["fit_seconds"] / per_epoch, r["timing"]
        share = (t.get("gradients", 0.0) + t.get("solver", 0.0)) / t["total"]
        by[r["strategy"]].append((r["test_accuracy"], cost, frontier_at(r["seed"], cost), share,
                                  frontier_at(r["seed"], cost * (1 - share)),
                                  frontier_at(r["seed"], cost, log=True)))
    return by, front


def table(out, budget=0.1):
    by, _ = readings(out, budget)
    lines = ["| strategy | accuracy % | cost (full epochs) | − frontier (pp) | seeds above | p | "
             "selection share | − frontier, selection free (pp) | − frontier, read in log E (pp) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in sorted(by.items()):
        lines.append(_row(name, *(np.array(c) for c in zip(*rows))))
    return "\n".join(lines)


def _row(name, acc, cost, fr, share, free, fr_log):
    """One table row; a run whose cost lies outside the frontier's ``E`` reads as nan."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no readings: nan
        diff = acc - fr
        ok = ~np.isnan(diff)
        p = (wilcoxon(diff[ok], alternative="greater").pvalue
             if ok.sum() > 1 and np.any(diff[ok]) else float("nan"))
        return (f"| {name} | {100 * acc.mean():.2f} ± {100 * acc.std(ddof=1):.2f} | "
                f"{cost.mean():.2f} | {100 * np.nanmean(diff):+.2f} | "
                f"{int((diff[ok] > 0).sum())}/{int(ok.sum())} | {p:.3f} | "
                f"{100 * share.mean():.1f}% | {100 * np.nanmean(acc - free):+.2f} | "
                f"{100 * np.nanmean(acc - fr_log):+.2f} |")


def write_csv(path, out, budgets, **fields):
    """The readings as CSV rows (one per strategy and budget, and one per frontier ``E``), with
    ``fields`` (dataset, date, device, command) on every row, for ``plot_findings.py``."""
    import csv

    names = ["dataset", "budget", "strategy", "seeds", "accuracy_mean", "accuracy_std",
             "cost_epochs", "distance_to_frontier", "runs_above", "p_value",
             "selection_share_pct", "distance_if_selection_free", "date", "device", "command"]
    rows = []
    for budget in budgets:
        by, front = readings(out, budget)
        for name, rs in sorted(by.items()):
            acc, cost, fr, share, free, _ = (np.array(c) for c in zip(*rs))
            diff = acc - fr
            ok = ~np.isnan(diff)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                p = (wilcoxon(diff[ok], alternative="greater").pvalue
                     if ok.sum() > 1 and np.any(diff[ok]) else float("nan"))
                rows.append(dict(budget=budget, strategy=name, seeds=len(acc),
                                 accuracy_mean=f"{100 * acc.mean():.2f}",
                                 accuracy_std=f"{100 * acc.std(ddof=1):.2f}",
                                 cost_epochs=f"{cost.mean():.2f}",
                                 distance_to_frontier=f"{100 * np.nanmean(diff):+.2f}",
                                 runs_above=f"{int((diff[ok] > 0).sum())}/{int(ok.sum())}",
                                 p_value=f"{p:.3f}",
                                 selection_share_pct=f"{100 * share.mean():.1f}",
                                 distance_if_selection_free=f"{100 * np.nanmean(acc - free):+.2f}"))
    epochs = sorted({e for seeds in front.values() for e in seeds})
    for e in epochs:
        acc = np.array([front[s][e] for s in front if e in front[s]])
        rows.append(dict(budget="", strategy="full-frontier", seeds=len(acc),
                         accuracy_mean=f"{100 * acc.mean():.2f}",
                         accuracy_std=f"{100 * acc.std(ddof=1):.2f}" if len(acc) > 1 else "",
                         cost_epochs=e))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for r in rows:
            w.writerow({**dict.fromkeys(names, ""), **fields, **r})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="the runner's output folder (with runs/)")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1],
                   help="a table for each of these budgets (default: 0.1)")
    p.add_argument("--csv", default=None, metavar="PATH",
                   help="also write the readings and the frontier's points as CSV here")
    p.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                   help="a column given on every CSV row (dataset, date, device, command)")
    args = p.parse_args(argv)
    if args.csv:
        write_csv(args.csv, args.out, args.budgets,
                  **dict(f.split("=", 1) for f in args.field))
    for budget in args.budgets:
        print(f"\nbudget {budget:g}\n\n{table(args.out, budget)}")


if __name__ == "__main__":
    main()
