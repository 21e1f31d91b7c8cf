"""GRAD-MATCH's default selector on digits at a constant learning rate, against RANDOM.

A 64-48-10 MLP trained by SGD (momentum 0.9, a constant learning rate of 0.1, batch 32, no
weight decay) for T = 30 epochs, on 10% subsets reselected as the estimator decides
(``R="auto"``) after a warm start (kappa = 0.5), one torch thread, on scikit-learn's digits with
the experiment runner's 70/30
split.  A large constant learning rate is where per-example subsets of a few examples a class
suffer most, and where a greedy search that picks a class's whole budget in one step shows.

    python examples/benchmarks/digits_constant_lr.py --seeds 20 --out results/digits_constant_lr

``--dataset synthetic`` runs the same on a small synthetic set (2 000 rows, 4 classes, from
scikit-learn's ``make_classification``) at a constant rate of 0.05 for T = 20 epochs.

Each finished (configuration, seed) is one JSON line of ``OUT/runs.jsonl`` (skipped on rerun);
the table (mean ± sd, the worst seed, seeds below 90%, and the paired difference with
RANDOM-WARM: seeds above, one-sided Wilcoxon p) goes to the terminal and ``OUT/table.md``.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from scipy.stats import wilcoxon
from sklearn.datasets import make_classification
from skorch import NeuralNetClassifier

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset.experiments.datasets import load_digits_split
from sksubset.experiments.models import MLP

#: name -> (selector, kappa, weighting)
CONFIGS = {
    "default": (None, 0.5, "batch"),
    "default, weighting=none": (None, 0.5, "none"),
    "every example": (GradMatchSelector(pool_factor=None, sampling="independent"), 0.5, "batch"),
    "every example, weighting=none": (
        GradMatchSelector(pool_factor=None, sampling="independent"), 0.5, "none"),
    "pool_factor=5": (GradMatchSelector(pool_factor=5), 0.5, "batch"),
    "exact": (GradMatchSelector(pool_factor=None, sampling="independent", criterion="gain",
                                per_step=1), 0.5, "batch"),
    "random": ("random", 0.0, "batch"),
    "random-warm": ("random", 0.5, "batch"),
}


#: the data sets: (constant learning rate, epochs T)
SETTINGS = {"digits": (0.1, 30), "synthetic": (0.05, 20)}


def load(name):
    """Digits with the runner's 70/30 split, or the small synthetic set: 2 000 training and
    1 000 test rows of 20 features (10 informative) in 4 classes, from scikit-learn's
    ``make_classification`` (seed 0)."""
    if name == "digits":
        X_train, y_train, X_test, y_test = load_digits_split()
    else:
        X, y = make_classification(n_samples=3000, n_features=20, n_informative=10,
                                   n_classes=4, random_state=0)
        X_train, y_train, X_test, y_test = X[:2000], y[:2000], X[2000:], y[2000:]
    return (X_train.astype(np.float32), y_train.astype(np.int64),
            X_test.astype(np.float32), y_test.astype(np.int64))


def run(name, seed, data, dataset="digits"):
    X_train, y_train, X_test, y_test = data
    selector, kappa, weighting = CONFIGS[name]
    lr, T = SETTINGS[dataset]
    net = NeuralNetClassifier(MLP, module__n_features=X_train.shape[1],
                              module__n_classes=int(y_train.max()) + 1,
                              module__hidden=(48,), criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=lr,
                              batch_size=32, max_epochs=T, train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, selector=selector, budget=0.1, kappa=kappa,
                                   weighting=weighting, random_state=seed, verbose=0)
    t0 = time.process_time()
    clf.fit(X_train, y_train)
    return {"config": name, "seed": seed, "accuracy": float(clf.score(X_test, y_test)),
            "cpu_seconds": time.process_time() - t0}


def table(records, seeds):
    by = {(r["config"], r["seed"]): r["accuracy"] for r in records}
    base = np.array([by.get(("random-warm", s), np.nan) for s in seeds])
    lines = ["| configuration | accuracy % | worst | seeds < 90% | − RANDOM-WARM (pp) |",
             "|---|---|---|---|---|"]
    for name in CONFIGS:
        acc = np.array([by.get((name, s), np.nan) for s in seeds])
        if np.isnan(acc).any():
            continue
        cell = ""
        if name != "random-warm" and not np.isnan(base).any():
            diff = acc - base
            p = wilcoxon(diff, alternative="greater").pvalue if np.any(diff) else 1.0
            cell = (f"{100 * diff.mean():+.2f} ({int((diff > 0).sum())}/{len(seeds)}, "
                    f"p = {p:.3f})")
        lines.append(f"| {name} | {100 * acc.mean():.2f} ± {100 * acc.std(ddof=1):.2f} | "
                     f"{100 * acc.min():.1f} | {int((acc < 0.9).sum())} | {cell} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--out", default="results/digits_constant_lr")
    p.add_argument("--dataset", choices=list(SETTINGS), default="digits",
                   help="digits (lr 0.1, T = 30) or a small synthetic set (2 000 rows, 4 "
                        "classes; lr 0.05, T = 20)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "runs.jsonl")
    records = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    done = {(r["config"], r["seed"]) for r in records}
    data = load(args.dataset)
    for name in args.configs:
        for seed in range(args.seeds):
            if (name, seed) not in done:
                rec = run(name, seed, data, args.dataset)
                records.append(rec)
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
    out = table(records, range(args.seeds))
    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as f:
        f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    main()
