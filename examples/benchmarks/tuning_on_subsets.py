"""Tuning on subsets: do searches that train each candidate on subsets choose as a full-data one?

A grid of configurations (learning rate x weight decay, optionally x the width of MNIST-1D's CNN),
every one trained for the same ``T`` epochs, is searched once on all the data (the reference) and
once per subset search: ``GridSearchCV`` over ``SubsetTrainingClassifier`` at each budget with
each strategy (``default``: ``SubsetTrainingClassifier(net, budget=b)`` as a user writes it;
``random-rs2`` and ``random`` as the experiment runner builds them), and
``HalvingGridSearchCV(resource="budget")`` over the default classifier (factor 3, the last round
at ``--halving-max`` of the rows).  Every search scores on the same stratified validation split
(``--valid-fraction`` of the training set, drawn per seed); its chosen configuration is then
trained on the whole training set (``sksubset.full_data_estimator``) and scored on the test set.
Per search and seed: Kendall's tau of its ranking of the configurations against the reference's
(a halving search ranks by the round a candidate reached, then its score there), tau within each
hyperparameter (the others fixed), the test accuracy of its choice against the reference's
choice's, and the search's process CPU time (one torch thread).  Seeds repeat the whole
procedure (split, initializations, selections).

    python examples/benchmarks/tuning_on_subsets.py --dataset mnist1d --train-size 24000 \\
        --seeds 3 --out results/tuning/mnist1d
    python examples/benchmarks/tuning_on_subsets.py --dataset fashion-mnist --train-size 20000 \\
        --epochs 15 --seeds 3 --out results/tuning/fashion-mnist

The planned cost is printed first (``--plan-only`` stops there).  Each finished search is one
JSON line of ``OUT/searches.jsonl`` and each full-data training of a chosen configuration one of
``OUT/refits.jsonl`` (a configuration is trained once per seed, whichever searches chose it);
both are skipped on a rerun.  The tables go to the terminal and ``OUT/table.md``, the plot to
``OUT/tuning.png``.
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
import torch
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    ParameterGrid,
    StratifiedShuffleSplit,
)

from sksubset import SubsetTrainingClassifier, full_data_estimator
from sksubset.exceptions import DivergenceError
from sksubset.experiments import ExperimentConfig
from sksubset.experiments.datasets import load_data
from sksubset.experiments.models import make_net, module_kwargs
from sksubset.experiments.plots import log_ticks
from sksubset.experiments.strategies import make_selector, parse_strategy, strategy_R
from sksubset.schedule import make_schedule

#: per data set: learning rates and weight decays of the grid (SGD, momentum 0.9, cosine over T)
GRIDS = {"mnist1d": ((0.005, 0.015, 0.05, 0.15), (0.0, 5e-4, 5e-3)),
         "fashion-mnist": ((0.003, 0.01, 0.03, 0.1), (0.0, 5e-4, 5e-3))}
#: short names of the grid's hyperparameters, for the tables
SHORT = {"net__lr": "lr", "net__optimizer__weight_decay": "wd", "net__module__channels": "width"}
REFERENCE = "full data (reference)"
FACTOR = 3  # of the halving search


def subset_classifier(name, net, budget, seed, cfg):
    """The classifier of a strategy name: ``default`` as a user writes it, the others as the
    experiment runner builds them."""
    if name == "default":
        return SubsetTrainingClassifier(net, budget=budget, random_state=seed, verbose=0)
    strategy = parse_strategy(name)
    return SubsetTrainingClassifier(
        net, selector=make_selector(strategy), budget=budget, R=strategy_R(cfg, strategy),
        kappa=cfg.kappa if strategy.warm else 0.0, per_batch=strategy.per_batch,
        random_state=seed, verbose=0)


def rows_of(budget, n):
    """Examples a subset of ``budget`` (a fraction or a count) of ``n`` rows, as the classifier
    counts them."""
    return int(budget) if isinstance(budget, (int, np.integer)) else max(1, round(budget * n))


def halving_resources(n_fit, n_candidates, max_fraction):
    """``min_resources, max_resources`` (examples a subset) of the halving search: the last of
    its ``1 + floor(log3(n_candidates))`` rounds at ``max_fraction`` of the fitted rows."""
    rounds = 1 + int(np.floor(np.log(n_candidates) / np.log(FACTOR) + 1e-9))
    top = rows_of(max_fraction, n_fit)
    return max(1, top // FACTOR ** (rounds - 1)), top


def plan(args, cfg, net, grid, n_fit, seed=0):
    """``label -> (make_search(seed), cost in fitted-row epochs)`` of one seed's searches."""
    n_cand = len(ParameterGrid(grid))
    split = StratifiedShuffleSplit(1, test_size=args.valid_fraction, random_state=seed)
    common = dict(cv=split, refit=False, error_score=np.nan)

    def epochs(clf, budget):  # full-epoch equivalents of one fit
        k = rows_of(budget, n_fit)
        p = clf.get_params()
        return make_schedule(cfg.epochs, k, n_fit, p["R"], p["kappa"]).full_epoch_equivalents(
            k, n_fit)

    base = SubsetTrainingClassifier(net, random_state=seed, verbose=0)
    out = {REFERENCE: (lambda: GridSearchCV(full_data_estimator(base), grid, **common),
                       n_cand * cfg.epochs)}
    for name in args.strategies:
        for b in args.budgets:
            clf = subset_classifier(name, net, b, seed, cfg)
            out[f"{name} {100 * b:g}%"] = (
                lambda clf=clf: GridSearchCV(clf, grid, **common), n_cand * epochs(clf, b))
    if args.halving_max:
        lo, hi = halving_resources(n_fit, n_cand, args.halving_max)
        cost, n = 0.0, n_cand
        for i in range(1 + int(np.floor(np.log(n_cand) / np.log(FACTOR) + 1e-9))):
            cost += n * epochs(base, min(lo * FACTOR ** i, hi))
            n = -(-n // FACTOR)
        out[f"halving default {100 * lo / n_fit:.2g}-{100 * hi / n_fit:.2g}%"] = (
            lambda: HalvingGridSearchCV(base, grid, resource="budget", factor=FACTOR,
                                        min_resources=lo, max_resources=hi, **common), cost)
    return out


def row_seconds(cfg, net, X, y):
    """CPU seconds of one training epoch per row (measured on up to 4 000 rows, after one
    untimed epoch)."""
    n = min(4000, len(y))
    net = clone(net).set_params(max_epochs=1)
    with torch.random.fork_rng():
        net.fit(X[:n], y[:n])
        t0 = time.process_time()
        net.partial_fit(X[:n], y[:n])
    return (time.process_time() - t0) / n


def candidate_key(params):
    return json.dumps(sorted(params.items()))


def ranking_scores(search, grid):
    """One score per configuration of ``grid`` (ParameterGrid order): the mean validation
    score; for a halving search ``10 * last round reached + score there``.  NaN (a failed
    fit) ranks below every score."""
    keys = [candidate_key(p) for p in ParameterGrid(grid)]
    res = search.cv_results_
    score = np.nan_to_num(np.asarray(res["mean_test_score"], float), nan=-1.0)
    rounds = np.asarray(res.get("iter", np.zeros(len(score))), float)
    out = dict.fromkeys(keys, -np.inf)
    for p, r, s in zip(res["params"], rounds, score):
        key = candidate_key({k: v for k, v in p.items() if k in grid})
        out[key] = max(out[key], 10 * r + s)
    return [float(out[k]) for k in keys]


def refit(search, seed, data, cache, path):
    """Test accuracy and CPU seconds of the search's choice trained on all the training data
    (once per configuration and seed)."""
    chosen = {k: v for k, v in search.best_params_.items() if k != "budget"}
    key = f"{seed} {candidate_key(chosen)}"
    if key not in cache:
        X_train, y_train, X_test, y_test = data
        model = full_data_estimator(search)
        t0 = time.process_time()
        try:
            acc = float(model.fit(X_train, y_train).score(X_test, y_test))
        except DivergenceError:
            acc = float("nan")
        cache[key] = {"key": key, "test_accuracy": acc, "cpu_seconds": time.process_time() - t0}
        _append(path, cache[key])
    return chosen, cache[key]


def _append(path, record):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _read(path):
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def tau_within(ref, other, grid, name):
    """Mean Kendall tau over the groups of configurations that differ only in ``name``."""
    params = list(ParameterGrid(grid))
    groups = {}
    for i, p in enumerate(params):
        groups.setdefault(candidate_key({k: v for k, v in p.items() if k != name}), []).append(i)
    taus = [kendalltau([ref[i] for i in g], [other[i] for i in g]).statistic
            for g in groups.values()]
    taus = [t for t in taus if np.isfinite(t)]
    return float(np.mean(taus)) if taus else float("nan")


def _choice(params):
    return ", ".join(f"{SHORT.get(k, k)}={v:g}" for k, v in sorted(params.items()))


def ms(values, fmt="{:.2f}"):
    """Mean ± sd over seeds (NaN seeds, such as a tau over tied scores, left out)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return "n/a"
    return fmt.format(v.mean()) + (f" ± {fmt.format(v.std(ddof=1))}" if len(v) > 1 else "")


def _mean_sd(values):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return (v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0) if len(v) else (np.nan, 0.0)


def summarize(records, grid, seeds):
    """The table of every search (mean ± sd over seeds) and the table of each seed's choices."""
    ref = {r["seed"]: r for r in records if r["search"] == REFERENCE}
    labels = list(dict.fromkeys(r["search"] for r in records))
    keys = list(grid)
    head = ("| search | CPU s | speedup | search + refit speedup | Kendall tau | "
            + " | ".join(f"tau {SHORT.get(k, k)}" for k in keys)
            + " | same choice | test acc % of the choice | vs reference (points) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    choices = ["| search | " + " | ".join(f"seed {s}" for s in seeds) + " |",
               "|" + "---|" * (len(seeds) + 1)]
    rows = []
    for label in labels:
        rs = [r for r in records if r["search"] == label and r["seed"] in ref]
        if not rs:
            continue
        f = {"cpu": [r["cpu_seconds"] for r in rs], "acc": [r["test_accuracy"] for r in rs]}
        f["speed"] = [ref[r["seed"]]["cpu_seconds"] / r["cpu_seconds"] for r in rs]
        f["speed2"] = [(ref[r["seed"]]["cpu_seconds"] + ref[r["seed"]]["refit_cpu_seconds"])
                       / (r["cpu_seconds"] + r["refit_cpu_seconds"]) for r in rs]
        f["tau"] = [kendalltau(ref[r["seed"]]["scores"], r["scores"]).statistic for r in rs]
        f["delta"] = [100 * (r["test_accuracy"] - ref[r["seed"]]["test_accuracy"]) for r in rs]
        for k in keys:
            f[k] = [tau_within(ref[r["seed"]]["scores"], r["scores"], grid, k) for r in rs]
        same = sum(r["chosen"] == ref[r["seed"]]["chosen"] for r in rs)

        lines.append(f"| {label} | {ms(f['cpu'], '{:.0f}')} | {ms(f['speed'], '{:.1f}')}x | "
                     f"{ms(f['speed2'], '{:.1f}')}x | {ms(f['tau'])} | "
                     + " | ".join(ms(f[k]) for k in keys)
                     + f" | {same}/{len(rs)} | {ms(100 * np.asarray(f['acc']))} | "
                     f"{ms(f['delta'])} (worst {min(f['delta']):+.2f}) |")
        by_seed = {r["seed"]: _choice(r["chosen"]) for r in rs}
        choices.append(f"| {label} | " + " | ".join(by_seed.get(s, "") for s in seeds) + " |")
        rows.append((label, np.mean(f["speed"]), _mean_sd(f["tau"]), f["delta"]))
    return "\n".join(lines), "\n".join(choices), rows


#: lower end of the accuracy panel (points below the reference); seeds further below (a chosen
#: configuration that diverges on all the data) are drawn at the edge with their value
FLOOR = -3.0


def plot(rows, title, path):
    """Kendall's tau (mean and sd over seeds) and each seed's test accuracy of the choice,
    against each search's speedup."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter
    except ImportError:
        return
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    speeds, n_below = [row[1] for row in rows], 0
    for i, (label, speed, (tau, sd), deltas) in enumerate(rows):
        color, marker = f"C{i % 10}", "os^D<>phX*"[i % 10]
        axes[0].errorbar(speed, tau, yerr=sd, fmt=marker, color=color, ms=6, capsize=3,
                         label=label)
        d = np.asarray(deltas, float)
        inside = d >= FLOOR
        axes[1].scatter(np.full(inside.sum(), speed), d[inside], marker=marker, color=color,
                        s=30, alpha=0.8)
        if inside.all():
            axes[1].plot([speed / 1.06, speed * 1.06], [d.mean()] * 2, color=color, lw=1.5)
        else:
            axes[1].scatter(speed, FLOOR + 0.1, marker="v", color=color, s=40)
            axes[1].annotate(", ".join(f"{v:.0f}" for v in d[~inside]), (speed, FLOOR + 0.1),
                             fontsize=7, color=color, xytext=(-4, 8 + 10 * n_below),
                             textcoords="offset points", ha="right")
            n_below += 1
    for ax, ylabel in ((axes[0], "Kendall's tau against the full-data ranking"),
                       (axes[1], "test accuracy of its choice − reference's (points)")):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(min(speeds), max(speeds))))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("search speedup over the full-data search (process CPU time)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_title("ranking of the configurations (mean ± sd over seeds)", fontsize=9)
    axes[1].set_title("each seed's choice trained on all the data (a bar: the mean; "
                      "▼ below the axis, with its value)", fontsize=9)
    axes[1].axhline(-0.3, color="grey", ls="--", lw=0.8)
    axes[1].set_ylim(FLOOR, max(1.0, axes[1].get_ylim()[1]))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8,
               title="search (dashed line: 0.3 points below)", title_fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=120)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=list(GRIDS), default="mnist1d")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-size", type=int, default=None,
                   help="stratified sample of the training set (default: all of it)")
    p.add_argument("--test-size", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="T of every configuration "
                   "(default: the runner's, 30 for MNIST-1D, 200 for Fashion-MNIST)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.1])
    p.add_argument("--strategies", nargs="+", default=["default", "random-rs2", "random"])
    p.add_argument("--halving-max", type=float, default=0.1,
                   help="budget of the halving search's last round (0: no halving search)")
    p.add_argument("--valid-fraction", type=float, default=0.2)
    p.add_argument("--lrs", type=float, nargs="+", default=None)
    p.add_argument("--weight-decays", type=float, nargs="+", default=None)
    p.add_argument("--widths", type=int, nargs="+", default=None,
                   help="channels of MNIST-1D's CNN as a third hyperparameter")
    p.add_argument("--out", default=None)
    p.add_argument("--plan-only", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    for name in args.strategies:
        if name != "default":
            parse_strategy(name)  # an unknown name fails here, before any training
    if args.widths and args.dataset != "mnist1d":
        raise SystemExit("--widths sets the channels of MNIST-1D's cnn1d; LeNet-5 has no width.")
    torch.set_num_threads(1)
    out = args.out or os.path.join("results", "tuning", args.dataset)
    cfg = ExperimentConfig(dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
                           batch_size=args.batch_size, train_size=args.train_size,
                           test_size=args.test_size, device="cpu", out=out).resolved()
    os.makedirs(out, exist_ok=True)
    data = load_data(cfg)
    X_train, y_train = data[0], data[1]
    lrs, wds = GRIDS[args.dataset]
    grid = {"net__lr": list(args.lrs or lrs),
            "net__optimizer__weight_decay": list(args.weight_decays or wds)}
    if args.widths:
        grid["net__module__channels"] = list(args.widths)
    net = make_net(cfg.model, module_kwargs(cfg.model, X_train, len(np.unique(y_train))),
                   cfg.epochs, cfg.batch_size, cfg.lr, "cpu")
    n_fit = len(y_train) - int(np.ceil(args.valid_fraction * len(y_train)))
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "plan_only", "seeds")}
    settings.update(T=cfg.epochs, batch_size=cfg.batch_size, model=cfg.model, grid=grid)
    saved = os.path.join(out, "settings.json")
    if os.path.exists(saved) and json.load(open(saved)) != json.loads(json.dumps(settings)):
        raise SystemExit(f"{out} holds results of other settings ({saved}): use another --out.")
    json.dump(settings, open(saved, "w"), indent=1)

    per_row = row_seconds(cfg, net, X_train, y_train)
    searches = plan(args, cfg, net, grid, n_fit)
    print(f"{args.dataset}, {cfg.model}: {len(y_train)} training rows ({n_fit} fitted in the "
          f"searches), T = {cfg.epochs}, batch {cfg.batch_size}, "
          f"{len(ParameterGrid(grid))} configurations, {args.seeds} seeds; one training epoch "
          f"of all rows ~ {per_row * len(y_train):.1f} CPU s")
    total = 0.0
    for label, (_, cost) in searches.items():
        seconds = cost * n_fit * per_row * args.seeds
        total += seconds
        print(f"  {label:<28} {cost:7.1f} fitted-set epochs a seed  ~ {seconds / 60:6.1f} CPU min")
    refits = (len(searches) // 2) * cfg.epochs * len(y_train) * per_row * args.seeds
    print(f"  {'refits (about one per two searches)':<28} ~ {refits / 60:6.1f} CPU min\n"
          f"  total ~ {(total + refits) / 60:.0f} CPU min (training only; selection rounds and "
          f"validation passes come on top)", flush=True)
    if args.plan_only:
        return

    path, refit_path = os.path.join(out, "searches.jsonl"), os.path.join(out, "refits.jsonl")
    records = _read(path)
    cache = {r["key"]: r for r in _read(refit_path)}
    done = {(r["seed"], r["search"]) for r in records}
    for seed in range(args.seeds):
        for label, (make, _) in plan(args, cfg, net, grid, n_fit, seed).items():
            if (seed, label) in done:
                continue
            search = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # failed fits score NaN; small-subset warnings
                t0 = time.process_time()
                search.fit(X_train, y_train)
                cpu = time.process_time() - t0
                chosen, fitted = refit(search, seed, data, cache, refit_path)
            rec = {"seed": seed, "search": label, "cpu_seconds": cpu,
                   "scores": ranking_scores(search, grid), "chosen": chosen,
                   "test_accuracy": fitted["test_accuracy"],
                   "refit_cpu_seconds": fitted["cpu_seconds"]}
            records.append(rec)
            _append(path, rec)
            print(f"seed {seed} {label}: {cpu:.0f} CPU s, chose {_choice(chosen)}, test "
                  f"accuracy {100 * rec['test_accuracy']:.2f}%", flush=True)
    table, choices, rows = summarize(records, grid, list(range(args.seeds)))
    title = (f"Tuning on subsets: {args.dataset} ({cfg.model}, {len(y_train)} rows, "
             f"T = {cfg.epochs}), {len(ParameterGrid(grid))} configurations, {args.seeds} seeds")
    text = f"{title}\n\n{table}\n\nChosen configurations:\n\n{choices}\n"
    with open(os.path.join(out, "table.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    plot(rows, title, os.path.join(out, "tuning.png"))


if __name__ == "__main__":
    main()
