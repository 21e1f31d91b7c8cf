"""What one GRAD-MATCH round costs against its floor and against a subset epoch, per regime.

For each regime (a data set and its runner model), a net is trained for one
epoch on part of the data, and then, on its last-layer factors:

* a subset epoch of ``budget`` rows is timed (one ``partial_fit`` epoch);
* a round of the default selector is timed in its two parts: the forward pass
  over the pool's rows that training did not compute (``1 - budget`` of them,
  as after the first round) and the solver (pools of ``pool_factor`` times each
  class's budget, drawn at random), with problems split at ``max_support``
  (the default) and with one problem a class (``max_support=None``);
* the floor of the solver is timed: one pass of correlations over the pool's
  factors (``sum_c E_ic (H R^T)_ic``, class by class) per greedy step;
* the cost the run predicts for a round and a subset epoch (``R="auto"``) is
  printed beside the measured ones;
* with ``--min-steps``, the split solve again with ``per_step="auto"`` choosing
  each budget over that many steps instead of the library's
  ``AUTO_MIN_STEPS`` (``max(k // N, 1)`` atoms a step), in the same process,
  for its time and gradient error.

Process CPU time, one torch thread.  Example::

    python examples/benchmarks/round_cost.py --regimes tabular mnist1d fashion-mnist
    python examples/benchmarks/round_cost.py --pool-factor 1.5 --min-steps 16 8 4
"""

import argparse
import json
import time
from unittest import mock

import numpy as np
import torch

from sksubset import GradMatchSelector
from sksubset._training._cost import BATCH_FLOPS, example_flops
from sksubset._utils.budget import split_budget
from sksubset.experiments.datasets import load_dataset
from sksubset.experiments.models import DEFAULT_MODEL, make_net, module_kwargs
from sksubset.experiments.plan import DATASET_DEFAULTS, DEFAULT_LR
from sksubset.gradients import last_layer_gradients
from sksubset.omp import _options
from sksubset.omp._options import atoms_per_step
from sksubset.selectors import RoundShape
from sksubset.selectors._gradmatch_solve import split_problems


def cpu(fn, reps=1):
    """Mean process CPU seconds of ``fn()`` over ``reps`` calls, and its last result."""
    t = time.process_time()
    for _ in range(reps):
        out = fn()
    return (time.process_time() - t) / reps, out


def measure(name, budget, pool_factor, reps, seed, min_steps=()):
    X, y, _, _ = load_dataset(name, cache_dir="results/data")
    y = np.asarray(y, dtype=np.int64)
    C = int(y.max()) + 1
    d = DATASET_DEFAULTS[name]
    model = DEFAULT_MODEL[name]
    net = make_net(model, module_kwargs(model, X, C), 1, d["batch_size"], d.get("lr", DEFAULT_LR))
    rng = np.random.RandomState(seed)
    torch.manual_seed(seed)
    warm = rng.choice(len(y), len(y) // 5, replace=False)
    net.fit(X[warm], y[warm])
    n, k = len(y), int(round(budget * len(y)))
    subset = rng.choice(n, k, replace=False)
    epoch_s, _ = cpu(lambda: net.partial_fit(X[subset], y[subset], epochs=1))
    groups = [np.flatnonzero(y == c) for c in range(C)]
    ks = split_budget(k, [len(g) for g in groups]).tolist()
    pool = np.sort(np.concatenate([rng.choice(g, min(len(g), int(round(pool_factor * kk))),
                                              replace=False) for g, kk in zip(groups, ks)]))
    fresh = pool[rng.rand(len(pool)) >= budget]
    forward_s, _ = cpu(lambda: last_layer_gradients(net, X[fresh], y[fresh]))
    ll = last_layer_gradients(net, X[pool], y[pool])
    rows = [np.flatnonzero(y[pool] == c) for c in range(C)]
    scales = [len(g) / len(r) for g, r in zip(groups, rows)]
    out = {"regime": name, "model": model, "n": n, "budget": k, "pool": len(pool),
           "width": [C, int(ll.Hb.shape[1])], "subset_epoch_s": epoch_s,
           "forward_s": forward_s}

    def timed(sel):
        """CPU seconds of ``sel``'s solve of the pool after a warm-up, and its result."""
        sel._select_examples(ll, rows, None, ks, scales)
        return cpu(lambda: sel._select_examples(ll, rows, None, ks, scales), reps)

    for key, ms in (("split", 256), ("whole", None)):
        secs, res = timed(GradMatchSelector(pool_factor=pool_factor, max_support=ms))
        parts, part_ks, _ = split_problems([len(r) for r in rows], ks, ms)
        steps = max(-(-kk // s) for kk, s in zip(part_ks, atoms_per_step("auto", part_ks)))
        out[key] = {"solver_s": secs, "gradient_error": res[2]["gradient_error"],
                    "steps": steps}
    out["by_min_steps"] = {}
    for m in min_steps:
        with mock.patch.object(_options, "AUTO_MIN_STEPS", m):
            secs, res = timed(GradMatchSelector(pool_factor=pool_factor))
        out["by_min_steps"][m] = {"solver_s": secs, "gradient_error": res[2]["gradient_error"]}
    Rm = torch.randn(C, ll.Hb.shape[1], dtype=ll.Hb.dtype)
    blocks = [(ll.Hb[torch.as_tensor(r)], ll.E[torch.as_tensor(r)]) for r in rows]
    corr_s, _ = cpu(lambda: [((H @ Rm.T) * E).sum(1) for H, E in blocks], 10)
    out["correlation_pass_s"] = corr_s
    for key in ("split", "whole"):
        out[key]["floor_s"] = out[key]["steps"] * corr_s
        out[key]["round_over_floor"] = out[key]["solver_s"] / out[key]["floor_s"]
        out[key]["round_subset_epochs"] = (out[key]["solver_s"] + forward_s) / epoch_s
    forward, train, _ = example_flops(net.module_, torch.as_tensor(X[:4]))
    shape = RoundShape(tuple(len(g) for g in groups), k, C, int(ll.Hb.shape[1]), forward,
                       free_share=budget)
    out["predicted_round_subset_epochs"] = (GradMatchSelector(pool_factor=pool_factor)
                                            .round_flops(shape)
                                            / (k * (train + BATCH_FLOPS / d["batch_size"])))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--regimes", nargs="+", default=["tabular", "mnist1d", "fashion-mnist"],
                   choices=["tabular", "mnist1d", "fashion-mnist", "digits"])
    p.add_argument("--budget", type=float, default=0.1)
    p.add_argument("--pool-factor", type=float, default=3.0)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-steps", nargs="+", type=int, default=[], metavar="N",
                   help="also time the solve choosing each budget over N greedy steps")
    p.add_argument("--out", default=None, help="write the records as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    records = []
    header = (f"{'regime':<14}{'pool':>7}{'epoch s':>9}{'fwd s':>8}{'solver s':>10}"
              f"{'floor s':>9}{'/floor':>8}{'/epoch':>8}{'pred':>7}{'err':>8}"
              f"{'whole s':>9}{'/floor':>8}{'err':>8}")
    print(header)
    for name in args.regimes:
        r = measure(name, args.budget, args.pool_factor, args.reps, args.seed, args.min_steps)
        records.append(r)
        s, w = r["split"], r["whole"]
        print(f"{name:<14}{r['pool']:>7}{r['subset_epoch_s']:>9.3f}{r['forward_s']:>8.3f}"
              f"{s['solver_s']:>10.3f}{s['floor_s']:>9.3f}{s['round_over_floor']:>8.2f}"
              f"{s['round_subset_epochs']:>8.2f}{r['predicted_round_subset_epochs']:>7.2f}"
              f"{s['gradient_error']:>8.4f}{w['solver_s']:>9.3f}{w['round_over_floor']:>8.2f}"
              f"{w['gradient_error']:>8.4f}")
        for m, v in r["by_min_steps"].items():
            print(f"{'':<14}over {m} steps: solver {v['solver_s']:.3f} s, "
                  f"error {v['gradient_error']:.4f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
