"""Data-parallel subset training (Accelerate, N processes) against one process.

For each seed, trains the same SubsetTrainingClassifier (GRAD-MATCH, per
class) twice on the same data:

* in one process, on a plain skorch net with mini-batches of ``N * b`` rows;
* in ``N`` processes started with ``torchrun``, on an
  :class:`~sksubset.distributed.AcceleratedNetClassifier` with ``b`` rows per
  process (the same global batch: ``N`` batches of ``b`` averaged);

and reports test accuracy (mean, std over seeds), the wall-clock of ``fit``
(median), how many selection rounds chose exactly the single-process subset,
and the cost of a selection round per rank.

CPU (gloo)::

    python examples/benchmarks/data_parallel.py --processes 2 --seeds 5 --threads 1

GPUs (NCCL, one GPU per process; Fashion-MNIST, LeNet-5)::

    python examples/benchmarks/data_parallel.py --device cuda --processes 1 --dataset fashion-mnist
    python examples/benchmarks/data_parallel.py --device cuda --processes 4 --dataset fashion-mnist
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from sksubset import SubsetTrainingClassifier
from sksubset.experiments.datasets import load_dataset
from sksubset.experiments.models import make_net, module_kwargs


def _data(args):
    X_train, y_train, X_test, y_test = load_dataset(args.dataset, args.data_dir)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def _classifier(args, net, seed):
    return SubsetTrainingClassifier(net, budget=args.budget, R=args.R, kappa=args.kappa,
                                    random_state=seed, verbose=0)


def _net(args, data, batch_size, device, **extra):
    kw = module_kwargs(args.model, data[0], len(np.unique(data[1])))
    net = make_net(args.model, kw, args.epochs, batch_size, args.lr, device)
    if extra:  # the same settings on the accelerated class
        from sksubset.distributed import AcceleratedNetClassifier
        params = {k: v for k, v in net.get_params(deep=False).items() if k != "device"}
        net = AcceleratedNetClassifier(**params, **extra)
    return net


def _fit(clf, data):
    t = time.perf_counter()
    clf.fit(data[0], data[1])
    seconds = time.perf_counter() - t
    return {"accuracy": float(clf.score(data[2], data[3])), "fit_seconds": seconds,
            "history": [{k: v for k, v in r.items()
                         if k in ("indices", "weights", "seconds") or k.startswith("rank_")}
                        for r in clf.selection_history_]}


def worker(args):
    """One rank of the data-parallel run (started by torchrun)."""
    from accelerate import Accelerator

    if args.threads:
        torch.set_num_threads(args.threads)
    accelerator = Accelerator(cpu=args.device == "cpu")
    data = _data(args)
    out = {}
    for seed in range(args.seeds):
        net = _net(args, data, args.batch_size, None, accelerator=accelerator)
        out[seed] = _fit(_classifier(args, net, seed), data)
    if accelerator.is_main_process:
        with open(args.worker, "wb") as f:
            pickle.dump(out, f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=2, help="processes of the data-parallel run")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--dataset", default="digits", choices=("digits", "fashion-mnist", "npz"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--model", default=None, help="mlp or lenet5 (default: per dataset)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=16, help="rows per process and batch")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--budget", type=float, default=0.1)
    p.add_argument("--R", type=int, default=5)
    p.add_argument("--kappa", type=float, default=0.5)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.model = args.model or ("lenet5" if args.dataset == "fashion-mnist" else "mlp")
    if args.worker:
        return worker(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = _data(args)
    single = {}
    for seed in range(args.seeds):
        net = _net(args, data, args.processes * args.batch_size, args.device)
        single[seed] = _fit(_classifier(args, net, seed), data)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ranks.pkl")
        cmd = ["torchrun", "--standalone", "--nproc_per_node", str(args.processes),
               os.path.abspath(__file__), *(argv if argv is not None else sys.argv[1:]),
               "--worker", path]
        env = dict(os.environ)
        if args.threads:
            env["OMP_NUM_THREADS"] = str(args.threads)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        launch_seconds = time.perf_counter() - t
        with open(path, "rb") as f:
            multi = pickle.load(f)

    def same(a, b):
        return sum(np.array_equal(x["indices"], y["indices"]) for x, y in zip(a, b))

    acc1 = [single[s]["accuracy"] for s in single]
    accn = [multi[s]["accuracy"] for s in multi]
    rounds = [len(single[s]["history"]) for s in single]
    summary = {
        "settings": vars(args) | {"worker": None},
        "single_accuracy": acc1, "parallel_accuracy": accn,
        "single_fit_seconds": [single[s]["fit_seconds"] for s in single],
        "parallel_fit_seconds": [multi[s]["fit_seconds"] for s in multi],
        "rounds": rounds, "rounds_same_subset": [same(single[s]["history"], multi[s]["history"])
                                                 for s in single],
        "single_round_seconds": [r["seconds"] for s in single for r in single[s]["history"]],
        "round_seconds_per_rank": [r["rank_seconds"] for s in multi
                                   for r in multi[s]["history"]],
        "launch_seconds": launch_seconds}
    n = args.processes
    print(f"{args.dataset}, {args.seeds} seeds, budget {args.budget:g}, T={args.epochs}, "
          f"device {args.device}")
    print(f"  1 process, batch {n * args.batch_size}: accuracy {np.mean(acc1):.4f} "
          f"± {np.std(acc1):.4f}, fit {np.median(summary['single_fit_seconds']):.2f} s (median), "
          f"selection round {np.median(summary['single_round_seconds']):.4f} s (median)")
    print(f"  {n} processes, batch {args.batch_size} each: accuracy {np.mean(accn):.4f} "
          f"± {np.std(accn):.4f}, fit {np.median(summary['parallel_fit_seconds']):.2f} s (median)")
    print(f"  rounds with the single-process subset: {sum(summary['rounds_same_subset'])} of "
          f"{sum(rounds)}; round seconds per rank (median): "
          f"{np.median(summary['round_seconds_per_rank'], axis=0).round(4).tolist()}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
