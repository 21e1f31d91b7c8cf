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


def table(out, budget=0.1):
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="the runner's output folder (with runs/)")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1],
                   help="a table for each of these budgets (default: 0.1)")
    args = p.parse_args(argv)
    for budget in args.budgets:
        print(f"\nbudget {budget:g}\n\n{table(args.out, budget)}")


if __name__ == "__main__":
    main()
