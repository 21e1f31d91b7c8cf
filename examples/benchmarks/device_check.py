"""Does a training run on a GPU keep its selection rounds on the GPU?

:class:`~sksubset.SubsetTrainingClassifier` around a LeNet-5 skorch net with
``device=--device``, end to end on Fashion-MNIST images, GRAD-MATCH per class
at a 10% budget.  In every selection round the last-layer factors (``E``,
``Hb``, logits) and the OMP's inputs and results are checked to live on that
device; one round (the second) runs under :mod:`torch.profiler`, whose Chrome
trace gives the number and the bytes of the GPU memory copies by direction:
on a GPU, the round's device-to-host copies must stay under 5% of the
factors' bytes (the indices, weights and scalars a selection needs, never the
gradients).  Each round's forward-pass and solver seconds are set against a
full-data epoch of the trained net.

Run::

    python examples/benchmarks/device_check.py --device cuda [--out DIR]

Writes ``device_check.md``, ``device_check.json`` and the profiled round's
``round_trace.json`` under ``--out`` (default ``$OUT`` or
``results/device_check``); the exit status is 1 when a check fails.
``gpu_check.py`` runs it as its first part.
"""

import argparse
import contextlib
import importlib
import json
import os
import sys
import time

import torch

from sksubset import SubsetTrainingClassifier
from sksubset.experiments.datasets import load_fashion_mnist
from sksubset.experiments.models import make_net, module_kwargs
from sksubset.experiments.runner import sync
from sksubset.selectors import GradMatchSelector

#: the (private) module whose ``solve_batched`` (the batched OMP) GRAD-MATCH calls, watched during
#: ``fit``
SOLVER_MODULE = "sksubset.selectors._gradmatch_solve"


def memcpy_summary(events):
    """Count, bytes and largest copy of the GPU memory copies in a Chrome trace's events,
    by direction (``DtoH``: device to host, ``HtoD``, ``DtoD``...)."""
    out = {}
    for e in events:
        name = e.get("name", "")
        if not name.startswith("Memcpy ") or e.get("ph", "X") != "X":
            continue
        n_bytes = int((e.get("args") or {}).get("bytes", 0))
        d = out.setdefault(name.split()[1], {"count": 0, "bytes": 0, "max_bytes": 0})
        d["count"] += 1
        d["bytes"] += n_bytes
        d["max_bytes"] = max(d["max_bytes"], n_bytes)
    return out


def _checked_selector(state):
    """GRAD-MATCH whose rounds record where the factors live (and profile one round)."""

    class CheckedGradMatch(GradMatchSelector):
        def select(self, context):
            rnd = {"round": len(state["rounds"]), "factors": set(), "solver": set(),
                   "factor_bytes": 0}
            state["current"] = rnd
            train_fn = context.train_fn

            def checked(idx):
                ll = train_fn(idx)
                rnd["factors"].update(t.device.type for t in (ll.E, ll.Hb, ll.Z))
                rnd["factor_bytes"] += sum(t.element_size() * t.nelement() for t in (ll.E, ll.Hb))
                return ll

            context.train_fn = checked
            if rnd["round"] != state["profile_round"]:
                sel = super().select(context)
            else:
                acts = [torch.profiler.ProfilerActivity.CPU]
                if context.device.type == "cuda":
                    acts.append(torch.profiler.ProfilerActivity.CUDA)
                with torch.profiler.profile(activities=acts) as prof:
                    sel = super().select(context)
                    sync(context.device)
                prof.export_chrome_trace(state["trace_path"])
                with open(state["trace_path"], encoding="utf-8") as f:
                    events = json.load(f).get("traceEvents", [])
                rnd["copies"] = memcpy_summary(events)
                rnd["kernels"] = sum(e.get("cat") == "kernel" for e in events)
                ops = {e.key: e.count for e in prof.key_averages()}
                rnd["scalar_reads"] = ops.get("aten::_local_scalar_dense", 0)
                rnd["profiled"] = True
            state["rounds"].append(rnd)
            return sel

    return CheckedGradMatch


@contextlib.contextmanager
def _watching_solver(state):
    """Record the devices of the OMP's inputs and results during ``fit``."""
    solver_module = importlib.import_module(SOLVER_MODULE)
    solve = solver_module.solve_batched

    def watched(A, b, *args, **kwargs):
        results = solve(A, b, *args, **kwargs)
        state["current"]["solver"].update({A.device.type, b.device.type})
        state["current"]["solver"].update(t.device.type for r in results
                                          for t in (r.indices, r.weights))
        return results

    solver_module.solve_batched = watched
    try:
        yield
    finally:
        solver_module.solve_batched = solve


def device_check(X, y, X_test, y_test, device, T, R, out, batch_size=64):
    """Fit the classifier on ``device`` with the checks of the module docstring."""
    os.makedirs(out, exist_ok=True)
    state = {"rounds": [], "profile_round": 1, "trace_path": os.path.join(out, "round_trace.json")}
    net = make_net("lenet5", module_kwargs("lenet5", X, 10), T, batch_size, 0.01, str(device))
    clf = SubsetTrainingClassifier(net, selector=_checked_selector(state)(per_class=True),
                                   budget=0.1, R=R, kappa=0.5, random_state=0, verbose=0)
    with _watching_solver(state):
        clf.fit(X, y)
    accuracy = float(clf.score(X_test, y_test))
    param_devices = sorted({p.device.type for p in clf.net_.module_.parameters()})
    sync(device)
    t = time.perf_counter()  # two more full-data epochs on the trained net: the second is timed
    clf.net_.partial_fit(X, y, epochs=2)
    epoch = float(clf.net_.history[-1, "dur"])
    rounds = []
    for rnd, h in zip(state["rounds"], clf.selection_history_):
        rounds.append({"round": rnd["round"], "epoch": h["epoch"],
                       "factor_devices": sorted(rnd["factors"]),
                       "solver_devices": sorted(rnd["solver"]),
                       "gradient_seconds": h["gradient_seconds"],
                       "solver_seconds": h["solver_seconds"], "profiled": "profiled" in rnd,
                       **{k: rnd[k] for k in ("copies", "kernels", "scalar_reads",
                                              "factor_bytes")
                          if k in rnd}})
    checks = {"every round selected on the device": all(
        r["factor_devices"] == [device.type] == r["solver_devices"] for r in rounds),
        "the trained net's parameters on the device": param_devices == [device.type],
        "a round was profiled": any(r["profiled"] for r in rounds)}
    prof = next((r for r in rounds if r["profiled"]), None)
    if device.type == "cuda" and prof is not None:
        checks["the profiler recorded the round's GPU kernels"] = prof["kernels"] > 0
        dtoh = prof["copies"].get("DtoH", {"count": 0, "bytes": 0, "max_bytes": 0})
        checks["device-to-host copies of the profiled round < 5% of the factors' bytes"] = (
            dtoh["bytes"] < 0.05 * prof["factor_bytes"])
    return {"n_train": len(y), "T": T, "R": R, "accuracy": accuracy,
            "full_epoch_seconds": epoch, "partial_fit_seconds": time.perf_counter() - t,
            "timing": dict(clf.timing_), "rounds": rounds, "checks": checks,
            "passed": all(checks.values())}


def device_markdown(res, device):
    lines = [f"SubsetTrainingClassifier(LeNet-5 net, device={device.type!r}), GRAD-MATCH per "
             f"class, budget 0.1, T = {res['T']}, R = {res['R']}, {res['n_train']} Fashion-MNIST"
             f" images; test accuracy {res['accuracy']:.4f}; a full-data epoch "
             f"{res['full_epoch_seconds']:.3f} s.", "",
             "| round | epoch | factors on | OMP on | forward pass (s) | solver (s) | "
             "round / full epoch | device-to-host copies (count, bytes, largest) | "
             "host reads of scalars |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rounds"]:
        d = r.get("copies", {}).get("DtoH")
        copies = ("" if "copies" not in r else "0" if d is None
                  else f"{d['count']}, {d['bytes']}, {d['max_bytes']}")
        seconds = r["gradient_seconds"] + r["solver_seconds"]
        lines.append(f"| {r['round']}{' (profiled)' if r['profiled'] else ''} | {r['epoch']} | "
                     f"{', '.join(r['factor_devices'])} | {', '.join(r['solver_devices'])} | "
                     f"{r['gradient_seconds']:.4f} | {r['solver_seconds']:.4f} | "
                     f"{seconds / res['full_epoch_seconds']:.3f} | {copies} | "
                     f"{r.get('scalar_reads', '')} |")
    prof = next((r for r in res["rounds"] if r["profiled"]), None)
    if prof is not None:
        lines += ["", f"Factors of the profiled round: {prof['factor_bytes']} bytes; its "
                  f"{prof['kernels']} GPU kernels and its GPU copies by direction: "
                  f"{json.dumps(prof['copies'])} (trace: round_trace.json beside this table)."]
    lines += [""] + [f"- {'pass' if ok else 'FAIL'}: {name}" for name, ok in res["checks"].items()]
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--n-samples", type=int, default=20000, help="training images")
    p.add_argument("--epochs", type=int, default=10, help="T")
    p.add_argument("--R", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64,
                   help="mini-batch size (a 10%% subset should hold several)")
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--out", default=os.environ.get("OUT") or "results/device_check")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    X, y, X_test, y_test = load_fashion_mnist(args.data_dir)
    n = args.n_samples
    res = device_check(X[:n], y[:n], X_test[:n // 10], y_test[:n // 10], device, args.epochs,
                       args.R, args.out, batch_size=args.batch_size)
    text = "\n".join(device_markdown(res, device)) + "\n"
    with open(os.path.join(args.out, "device_check.md"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(args.out, "device_check.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)
    print(text, end="")
    return 0 if res["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
