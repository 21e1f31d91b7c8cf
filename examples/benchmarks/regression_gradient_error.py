"""GRAD-MATCH's subsets against random ones on a regressor's own last-layer gradients.

An MLP regressor (the runner's ``mlp``: 10 - 128 - 1, squared loss) is trained
for ``--epochs`` epochs on the runner's ``friedman`` set (50 000 rows of
Friedman #1, :mod:`sksubset.experiments.regression`), then at each budget the
relative error ``||sum_S w_i g_i - sum_i g_i|| / ||sum_i g_i||`` of the net's
per-example last-layer gradients ``g_i = 2 (yhat_i - y_i) [1, h_i]`` is
measured for:

* ``gradmatch``: the estimators' default selector
  (:func:`sksubset.classifier.default_selector`; a regressor's rows are one
  group) with its fitted weights;
* ``gradmatch (uniform w)``: the same rows, each weighted ``n / k`` (how much
  of the error the weights remove);
* ``random``: ``--draws`` uniform subsets of the same size, weights ``n / k``
  (mean and standard deviation over the draws);
* ``craig``: with ``--craig``, CRAIG's weighted medoids (one group; its greedy
  is quadratic in the rows, minutes at 50 000).

Run::

    python examples/benchmarks/regression_gradient_error.py [--out DIR]

(``--train-size`` takes the first rows only, for a smoke test.)  Writes
``regression_gradient_error.md`` and ``.json`` under ``--out`` (default
``results/regression_gradient_error``).
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from sksubset import CraigSelector, last_layer_gradients
from sksubset.classifier import default_selector
from sksubset.experiments.models import make_net, module_kwargs
from sksubset.experiments.regression import load_friedman


def relative_error(G, indices, weights):
    """``||sum_S w_i g_i - sum_i g_i|| / ||sum_i g_i||`` from the factors, in float64."""
    E, Hb = G.E.double(), G.Hb.double()
    full = E.T @ Hb
    it = torch.as_tensor(np.asarray(indices))
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    approx = (E[it] * w[:, None]).T @ Hb[it]
    return float((approx - full).norm() / full.norm())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.1, 0.3])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--craig", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/regression_gradient_error")
    args = p.parse_args()
    torch.set_num_threads(1)

    X, y, _, _ = load_friedman()
    if args.train_size:
        X, y = X[:args.train_size], y[:args.train_size]
    n = len(y)
    torch.manual_seed(args.seed)
    net = make_net("mlp", module_kwargs("mlp", X, 1), args.epochs, 64, 0.01, regression=True)
    net.fit(X, y[:, None])
    G = last_layer_gradients(net, X, y)
    rng = np.random.default_rng(args.seed)
    rows = []
    for budget in args.budgets:
        k = max(1, round(budget * n))
        t0 = time.perf_counter()
        sel = default_selector().set_params(budget=k).fit(G, y)
        seconds = time.perf_counter() - t0
        random_errors = [relative_error(G, rng.choice(n, k, replace=False), np.full(k, n / k))
                         for _ in range(args.draws)]
        row = {"budget": budget, "k": k, "gradmatch": relative_error(G, sel.indices_,
                                                                        sel.weights_),
               "gradmatch_uniform": relative_error(G, sel.indices_, np.full(k, n / k)),
               "gradmatch_seconds": seconds, "random_mean": float(np.mean(random_errors)),
               "random_std": float(np.std(random_errors, ddof=1)), "craig": None}
        if args.craig:
            craig = CraigSelector(budget=k, random_state=args.seed).fit(G, y)
            row["craig"] = relative_error(G, craig.indices_, craig.weights_)
        rows.append(row)
        print(row, flush=True)

    os.makedirs(args.out, exist_ok=True)
    lines = [f"Friedman #1, {n} training rows, MLP 10-128-1 after {args.epochs} epochs "
             f"(squared loss), seed {args.seed}: relative error of the weighted subset's "
             f"last-layer gradient sum.", "",
             "| budget | k | GRAD-MATCH | GRAD-MATCH, uniform w | random (mean ± std) | CRAIG |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        craig = "" if r["craig"] is None else f"{r['craig']:.4f}"
        lines.append(f"| {r['budget']:g} | {r['k']} | {r['gradmatch']:.4f} | "
                     f"{r['gradmatch_uniform']:.4f} | {r['random_mean']:.4f} ± "
                     f"{r['random_std']:.4f} | {craig} |")
    with open(os.path.join(args.out, "regression_gradient_error.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "regression_gradient_error.json"), "w") as f:
        json.dump({"n": n, "epochs": args.epochs, "seed": args.seed, "rows": rows}, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
