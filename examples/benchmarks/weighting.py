"""How selection weights should enter the loss: ``weighting="batch"``, ``"subset"`` or ``"none"``.

Every weighted strategy (per-class GRAD-MATCH, GRAD-MATCH-PB, CRAIG-PB, CREST; warm and not) is
trained under each weighting of :class:`sksubset.SubsetTrainingClassifier` at several learning
rates, with RANDOM and RANDOM-WARM (unweighted, so the weighting does not apply) as the
reference.  Each learning rate is one experiment of the runner (``python -m
sksubset.experiments``) in its own folder, one tag per weighting, so every run is an ordinary,
resumable runner record.  The table gives, per strategy, weighting and learning rate, the mean ±
sd test accuracy (%) over the seeds, the worst seed in parentheses, and after a dagger the number
of weighted runs that *collapsed*: diverged, or ended more than 10 points below RANDOM's mean at
the same learning rate.  The last column compares ``batch`` with ``subset``, paired by seed: the
mean difference in points and a two-sided Wilcoxon signed-rank p-value.

Run (digits: sklearn's bundled set, the runner's 70/30 split and 64-128-10 MLP; SGD momentum
0.9, weight decay 5e-4, cosine annealing; batch 32, T = 30, R = 5, 10%)::

    python examples/benchmarks/weighting.py --dataset digits --lrs 0.01 0.03 0.1 0.3 --seeds 5

Fashion-MNIST (LeNet-5, batch 20; the paper's lr 0.01 and 5x it); ``--train-subsample N``
trains on a stratified random sample of N of the 60 000 training images (seed 0, written as an
``.npz`` under ``--out``) to fit a 2-core CPU, and tests on all 10 000 test images::

    python examples/benchmarks/weighting.py --dataset fashion-mnist --lrs 0.01 0.05 \\
        --seeds 3 --epochs 20 --train-subsample 12000

Writes ``weighting.md`` and ``weighting.json`` under ``--out`` (default
``results/weighting/<dataset>``), and each experiment under ``--out/lr<lr>``.
"""

import argparse
import json
import os

import numpy as np
from scipy.stats import wilcoxon
from sklearn.model_selection import train_test_split

from sksubset.experiments import ExperimentConfig, run_experiment
from sksubset.experiments.datasets import load_dataset
from sksubset.experiments.plan import WEIGHTINGS

WEIGHTED = ("gradmatch-pc", "gradmatch-pc-warm", "gradmatch-pb", "gradmatch-pb-warm",
            "craig-pb", "craig-pb-warm", "crest", "crest-warm")
BASELINES = ("random", "random-warm")
COLLAPSE_POINTS = 10.0


def subsample(args):
    """Write a stratified sample of ``args.train_subsample`` training rows (and the whole test
    set) as an ``.npz``; return the runner's dataset, data_dir and model for it."""
    if not args.train_subsample:
        return args.dataset, args.data_dir, None
    X, y, X_test, y_test = load_dataset(args.dataset, args.data_dir)
    keep, _ = train_test_split(np.arange(len(y)), train_size=args.train_subsample, stratify=y,
                               random_state=0)
    keep = np.sort(keep)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.dataset}-{args.train_subsample}.npz")
    np.savez(path, X_train=X[keep], y_train=y[keep], X_test=X_test, y_test=y_test)
    return "npz", path, "lenet5" if args.dataset == "fashion-mnist" else "mlp"


def run(args):
    rows = []
    dataset, data_dir, model = subsample(args)
    batch_size = args.batch_size or (20 if args.dataset == "fashion-mnist" else None)
    for lr in args.lrs:
        out = os.path.join(args.out, f"lr{lr:g}")
        common = dict(dataset=dataset, data_dir=data_dir, model=model, budgets=(args.budget,),
                      epochs=args.epochs, R=args.R, seeds=args.seeds, lr=lr, out=out,
                      quiet=True, batch_size=batch_size, threads=args.threads,
                      lr_schedule=args.lr_schedule)
        records = run_experiment(ExperimentConfig(strategies=BASELINES, **common))["records"]
        for weighting in args.weightings:
            records += run_experiment(ExperimentConfig(
                strategies=args.strategies, weighting=weighting, tag=weighting,
                **common))["records"]
        rows += summarize(records, lr)
    return rows


def summarize(records, lr):
    """One row per (strategy, weighting) of one learning rate's records."""
    groups = {}
    for r in records:
        groups.setdefault(r["strategy"], []).append(r)
    random_mean = 100 * np.mean([r["test_accuracy"] for r in groups["random"]])
    by_seed = {name: {r["seed"]: r["test_accuracy"] for r in runs} for name, runs in groups.items()}
    rows = []
    for name, runs in groups.items():
        strategy, _, weighting = name.partition("+")
        acc = 100 * np.array([r["test_accuracy"] for r in runs])
        diverged = sum(bool(r.get("diverged")) for r in runs)
        collapsed = 0 if not weighting else sum(
            bool(r.get("diverged") or a < random_mean - COLLAPSE_POINTS) for r, a in zip(runs, acc))
        rows.append({"lr": lr, "strategy": strategy, "weighting": weighting or "-",
                     "seeds": len(runs), "mean": float(acc.mean()),
                     "sd": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                     "min": float(acc.min()), "diverged": diverged, "collapsed": collapsed,
                     "batch_vs_subset": (_paired(by_seed, strategy) if weighting == "batch"
                                         else None)})
    return rows


def _paired(by_seed, strategy):
    """``batch`` minus ``subset`` in points (mean over shared seeds) and the two-sided p."""
    a, b = by_seed.get(strategy + "+batch", {}), by_seed.get(strategy + "+subset", {})
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    d = 100 * np.array([a[s] - b[s] for s in seeds])
    p = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return float(d.mean()), p


def markdown(rows):
    """One line per (learning rate, strategy); a cell per weighting: mean ± sd (worst seed),
    with the number of collapsed runs after a dagger."""
    columns = ("-",) + WEIGHTINGS + ("paired",)
    cells = {}
    for r in rows:
        text = f"{r['mean']:.1f} ± {r['sd']:.1f} ({r['min']:.1f})"
        if r["collapsed"]:
            text += f" †{r['collapsed']}"
        cell = cells.setdefault((r["lr"], r["strategy"]), {})
        cell[r["weighting"]] = text
        if r.get("batch_vs_subset"):
            cell["paired"] = "{:+.2f} (p = {:.3f})".format(*r["batch_vs_subset"])
    lines = ["| lr | strategy | unweighted | " + " | ".join(WEIGHTINGS) + " | batch − subset |",
             "|---" * (len(columns) + 2) + "|"]
    for (lr, strategy), by in cells.items():
        lines.append(f"| {lr:g} | {strategy} | "
                     + " | ".join(by.get(c, "") for c in columns) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="digits", choices=("digits", "fashion-mnist"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--lrs", nargs="+", type=float, default=[0.01, 0.03, 0.1, 0.3])
    p.add_argument("--weightings", nargs="+", choices=WEIGHTINGS, default=list(WEIGHTINGS))
    p.add_argument("--strategies", nargs="+", default=list(WEIGHTED))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--R", type=int, default=5)
    p.add_argument("--budget", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: the runner's (20 for Fashion-MNIST, 32 for digits)")
    p.add_argument("--train-subsample", type=int, default=None, metavar="N",
                   help="train on a stratified sample of N training rows")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    args.out = args.out or os.path.join("results", "weighting", args.dataset)
    rows = run(args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "weighting.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    table = markdown(rows)
    with open(os.path.join(args.out, "weighting.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
