"""One-shot GRAD-MATCH from a trained net: factored last-layer gradients against the dense matrix.

Two measurements, per class at a 10% budget (``GradMatchSelector(budget=0.1,
per_class=True)``):

* **Fashion-MNIST, LeNet-5** trained briefly (``--epochs``, default 1): the
  net's gradients from ``last_layer_gradients(net, X, y)`` given to ``fit``
  as factors (``factored``), against the dense path (``dense``: the
  ``(60000, 850)`` matrix formed by ``sample_gradients`` and given to
  ``fit``), each with the solver reading float32 (the default) and
  float64.  Time, peak memory, the share of picks in common and the
  gradient errors.
* **CIFAR-100-sized synthetic factors**: 50 000 rows, 100 classes, a
  512-wide last layer (``[1, h]`` has 513 columns, so the dense matrix
  would be 50 000 x 51 300 float32, 10.3 GB), selected on the factors.
  ``E = softmax(z) - onehot(y)`` of random logits, ``h = relu`` of a normal.

Each selection runs in a fresh subprocess, so that its peak memory is its
own: on the CPU the peak resident set size (``VmHWM``, reset just before
the selection) less the resident size then, on a GPU
``torch.cuda.max_memory_allocated`` above what the inputs hold.  Timings
are medians of ``--repeats`` runs on ``--threads`` torch threads.  Besides
the selector's ``gradient_error_`` (against the full gradient, whose norm is
small where the class gradients cancel), the mean over classes of each
class's relative error against its own gradient sum is reported.

Run::

    python examples/benchmarks/one_shot_factored.py [--device cpu|cuda] [--threads 1] \
        [--repeats 3] [--epochs 1] [--out DIR]
    python examples/benchmarks/one_shot_factored.py --small    # a quick check

Writes ``one_shot_factored.md`` and ``.json`` under ``--out`` (default
``$OUT`` or ``results/one_shot_factored``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from sksubset import GradMatchSelector
from sksubset._utils.validation import DTYPES
from sksubset.experiments.runner import sync
from sksubset.gradients import LastLayer, last_layer_gradients, sample_gradients


# -- inputs ---------------------------------------------------------------------
def fmnist_factors(device, epochs, n):
    """Factors of LeNet-5 trained ``epochs`` epochs on (the first ``n`` rows of) Fashion-MNIST."""
    from sksubset.experiments.datasets import load_fashion_mnist
    from sksubset.experiments.models import make_net, module_kwargs

    X, y, _, _ = load_fashion_mnist()
    X, y = X[:n], y[:n]
    torch.manual_seed(0)
    net = make_net("lenet5", module_kwargs("lenet5", X, 10), epochs, 64, 0.01, device)
    t = time.perf_counter()
    net.fit(X, y)
    train_s = time.perf_counter() - t
    sync(torch.device(device))
    t = time.perf_counter()
    G = last_layer_gradients(net, X, y)
    sync(torch.device(device))
    return G, {"train_seconds": train_s, "gradient_seconds": time.perf_counter() - t}


def synthetic_factors(n, C, H, device, seed=0):
    """CIFAR-100-like factors: ``softmax - onehot`` of random logits, ``[1, relu(normal)]``."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % C
    Z = 2.0 * torch.randn(n, C, generator=g)
    E = torch.softmax(Z, 1) - torch.nn.functional.one_hot(y, C).float()
    Hb = torch.cat([torch.ones(n, 1), torch.randn(n, H, generator=g).relu()], 1)
    return LastLayer(E.to(device), Hb.to(device), Z.to(device), y.to(device))


# -- one selection in its own process --------------------------------------------
def _status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak_rss():
    """Reset the kernel's peak resident set size (VmHWM) to the current one (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _class_errors(G, indices, weights):
    """Relative error of each class's weighted selection against that class's gradient sum."""
    y = G.y
    w = torch.zeros(len(y), dtype=torch.float64, device=G.E.device)
    w[torch.as_tensor(indices, device=w.device)] = torch.as_tensor(weights, device=w.device)
    E, Hb = G.E.double(), G.Hb.double()
    errs = []
    for c in torch.unique(y):
        r = y == c
        full = E[r].T @ Hb[r]
        approx = (E[r] * w[r, None]).T @ Hb[r]
        errs.append(float((approx - full).norm() / full.norm()))
    return errs


def worker(path, way, device, threads, out):
    way, dtype = way.split(":")
    torch.set_num_threads(threads)
    d = torch.load(path)
    dev = torch.device(device)
    G = factors = LastLayer(*(d[k].to(dev) for k in ("E", "Hb", "Z", "y")))
    y = d["y"].numpy()
    GradMatchSelector(budget=5).fit(G[torch.arange(50, device=dev)])  # warm up the code paths
    sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    else:
        _reset_peak_rss()
        base = _status_bytes("VmRSS")
    t = time.perf_counter()
    if way == "dense":
        # today's path: the (n, C (H + 1)) matrix, in the precision the solver reads
        G = sample_gradients(G.E.to(DTYPES[dtype]), G.Hb.to(DTYPES[dtype]))
    sync(dev)
    t_form = time.perf_counter() - t
    sel = GradMatchSelector(budget=0.1, per_class=True, dtype=dtype).fit(G, y)
    sync(dev)
    seconds = time.perf_counter() - t
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) - base
    else:
        peak = _status_bytes("VmHWM") - base
    errs = _class_errors(factors, sel.indices_, sel.weights_)
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "form_seconds": t_form, "peak_bytes": max(peak, 0),
                   "gradient_error": sel.gradient_error_, "class_error": float(np.mean(errs)),
                   "indices": sel.indices_.tolist(), "n_rounds": sel.n_rounds_}, f)


def run_way(path, way, args):
    runs = []
    for _ in range(args.repeats):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            out = f.name
        subprocess.run([sys.executable, __file__, "--worker", way, "--factors", path,
                        "--device", args.device, "--threads", str(args.threads),
                        "--result", out], check=True)
        with open(out) as f:
            runs.append(json.load(f))
        os.remove(out)
    r = runs[0]
    return {"seconds": statistics.median(x["seconds"] for x in runs),
            "form_seconds": statistics.median(x["form_seconds"] for x in runs),
            "peak_bytes": statistics.median(x["peak_bytes"] for x in runs),
            "gradient_error": r["gradient_error"], "class_error": r["class_error"],
            "indices": r["indices"],
            "n_rounds": r["n_rounds"], "all_seconds": [x["seconds"] for x in runs]}


def _save(G, path):
    torch.save({"E": G.E.cpu(), "Hb": G.Hb.cpu(), "Z": G.Z.cpu(), "y": G.y.cpu()}, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--small", action="store_true",
                   help="6000 Fashion-MNIST rows and 5000 synthetic rows: a quick check")
    p.add_argument("--out", default=os.environ.get("OUT") or "results/one_shot_factored")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--factors", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.factors, args.worker, args.device, args.threads, args.result)
    torch.set_num_threads(args.threads)
    n_f, n_s = (6000, 5000) if args.small else (60000, 50000)
    tmp = tempfile.mkdtemp()
    report = {"device": args.device, "threads": args.threads, "repeats": args.repeats,
              "torch": torch.__version__}
    try:
        G, info = fmnist_factors(args.device, args.epochs, n_f)
        path = os.path.join(tmp, "fmnist.pt")
        _save(G, path)
        ways = {way: run_way(path, way, args) for way in
                ("factored:float32", "dense:float32", "factored:float64", "dense:float64")}
        shared = {}
        for dtype in ("float32", "float64"):
            a, b = (set(ways[f"{w}:{dtype}"]["indices"]) for w in ("factored", "dense"))
            shared[dtype] = len(a & b) / len(b)
        report["fashion_mnist"] = dict(info, n=len(G), shape=list(G.shape),
                                       epochs=args.epochs, shared=shared,
                                       ways={w: {k: v for k, v in r.items() if k != "indices"}
                                             for w, r in ways.items()})
        del G
    except FileNotFoundError as exc:
        print(f"Fashion-MNIST part skipped: {exc}")
    G = synthetic_factors(n_s, 100, 512, args.device)
    path = os.path.join(tmp, "synthetic.pt")
    _save(G, path)
    r = run_way(path, "factored:float32", args)
    report["synthetic"] = {"n": n_s, "shape": list(G.shape),
                           "dense_bytes": G.shape[0] * G.shape[1] * 4,
                           "factor_bytes": (G.E.numel() + G.Hb.numel()) * 4,
                           "factored": {k: v for k, v in r.items() if k != "indices"},
                           "n_selected": len(r["indices"])}
    os.makedirs(args.out, exist_ok=True)
    lines = _table(report)
    with open(os.path.join(args.out, "one_shot_factored.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "one_shot_factored.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\n".join(lines))


def _table(report):
    mib = 2.0 ** 20
    lines = [f"Device {report['device']}, {report['threads']} torch thread(s), median of "
             f"{report['repeats']} runs, each in its own process.", ""]
    fm = report.get("fashion_mnist")
    if fm:
        lines += [f"Fashion-MNIST, LeNet-5 after {fm['epochs']} epoch(s) "
                  f"({fm['train_seconds']:.0f} s of training), {fm['n']} rows, gradients "
                  f"{fm['shape'][0]} x {fm['shape'][1]} (forward pass "
                  f"{fm['gradient_seconds']:.2f} s); per class at 10%; picks shared by "
                  f"the two paths: {fm['shared']['float32']:.1%} in float32, "
                  f"{fm['shared']['float64']:.1%} in float64.", "",
                  "| path | dtype | seconds (of which forming G) | peak memory (MiB) | "
                  "gradient error | mean per-class error |",
                  "|---|---|---|---|---|---|"]
        for way, r in fm["ways"].items():
            name, dtype = way.split(":")
            lines.append(f"| {name} | {dtype} | {r['seconds']:.2f} ({r['form_seconds']:.2f}) | "
                         f"{r['peak_bytes'] / mib:.0f} | {r['gradient_error']:.5f} | "
                         f"{r['class_error']:.5f} |")
        lines.append("")
    s = report["synthetic"]
    r = s["factored"]
    lines += [f"Synthetic CIFAR-100-sized factors: {s['n']} rows x 100 classes x 513, dense "
              f"matrix {s['shape'][0]} x {s['shape'][1]} would take "
              f"{s['dense_bytes'] / 2 ** 30:.1f} GiB (factors: {s['factor_bytes'] / mib:.0f} "
              f"MiB); per class at 10% ({s['n_selected']} rows) on the factors: "
              f"{r['seconds']:.1f} s, peak memory {r['peak_bytes'] / mib:.0f} MiB, gradient "
              f"error {r['gradient_error']:.4f} (mean per-class error "
              f"{r['class_error']:.4f})."]
    return lines


if __name__ == "__main__":
    main()
