"""Every figure docs/benchmarks.md lists as not yet measured on a GPU, in one run.

Four parts, each built on a benchmark of this folder or on the experiment
runner, run in this order (fixed-cost parts first, so that a run cut short
keeps the most):

``device``
    ``device_check.py``: :class:`~sksubset.SubsetTrainingClassifier` around a
    LeNet-5 skorch net with ``device=--device``, end to end on Fashion-MNIST;
    in every selection round the factors and the OMP are checked to be on
    that device, and one round's host copies are counted by the profiler.
``omp``
    ``omp_vs_cords.py`` on ``(20000, 850, 2000)`` and, with a short CORDS
    timeout (CORDS is not expected to finish), on ``(50000, 5130, 5000)``.
``per-class``
    ``per_class_omp.py``: loop, batch or factors.
``fmnist``
    The experiment runner on Fashion-MNIST, LeNet-5, budget 10%, T = 100:
    ``full-frontier`` (E = 5, 8, 12, 18), ``random-warm``, ``random-rs2``
    where this version has RS2, and the best GRAD-MATCH variant of the CPU
    experiment (``gradmatch-pc-warm``, R = 5, a pool of three times the budget cycling through
    the data, ``criterion="correlation", per_step=16``), seed after seed
    while the time budget lasts; then the cost of each selection round
    against a full-data epoch and the energy NVML measured.

Run::

    python examples/benchmarks/gpu_check.py --device cuda          # about 8 minutes
    python examples/benchmarks/gpu_check.py --small                # CPU, a minute or two

Writes ``gpu_check.md`` (every table and whether each goal was reached),
``gpu_check.json``, ``gpu_check.log`` and one folder per part under ``--out``
(default ``$OUT`` or ``results/gpu_check``); ``--archive FILE`` also packs
``--out`` into one ``.tar.gz`` after every part.  Energy comes from NVML when
``pynvml`` is importable and is otherwise recorded as unavailable.  The exit
status is 1 when a part failed or a device check did not pass.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import sys
import tarfile
import time
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_check  # noqa: E402  (the benchmarks of this folder)
import omp_vs_cords  # noqa: E402
import per_class_omp  # noqa: E402

from sksubset.experiments import ExperimentConfig  # noqa: E402
from sksubset.experiments.datasets import load_data, load_fashion_mnist  # noqa: E402
from sksubset.experiments.plan import plan_runs  # noqa: E402
from sksubset.experiments.report import format_table, write_report  # noqa: E402
from sksubset.experiments.runner import EnergyMeter, execute, load_records  # noqa: E402
from sksubset.experiments.strategies import parse_strategy  # noqa: E402

PARTS = ("device", "omp", "per-class", "fmnist")
#: sizes of each part: on a GPU, and with --small
SETTINGS = {
    "gpu": {"device_n": 20000, "device_T": 10, "device_R": 2, "device_batch": 64,
            "omp": [("20000x850x2000", ("synthetic", "real"), "cords_timeout"),
                    ("50000x5130x5000", ("synthetic", "real"), "cords_timeout_large")],
            "per_class_n": 60000, "repeats": 3, "fm_T": 100, "fm_frontier": (5, 8, 12, 18),
            "fm_train": None, "fm_test": None},
    "small": {"device_n": 600, "device_T": 4, "device_R": 1, "device_batch": 20,
              "omp": [("200x850x20", ("synthetic", "real"), "cords_timeout"),
                      ("300x5130x30", ("synthetic",), "cords_timeout_large")],
              "per_class_n": 2000, "repeats": 1, "fm_T": 4, "fm_frontier": (1, 2),
              "fm_train": 1000, "fm_test": 300},
}
#: the command for a GPU machine without skorch, from the repository root, with _carry/
#: filled by prepare_gpu_carry.sh; $OUT: a folder whose files come back (two of them)
DEVICE_COMMAND = (
    "set -o pipefail; python3 -m pip install -q --no-index --no-deps --no-compile "
    "--no-cache-dir --upgrade --target /tmp/site _carry/wheels/*.whl || exit 1; "
    "export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1; "
    "python3 examples/benchmarks/gpu_check.py --device cuda --data-dir _carry/fashion-mnist "
    "--out /tmp/gpu_check --archive $OUT/gpu_check.tar.gz 2>&1 | tee $OUT/console.log")
#: the selector parameters of the best GRAD-MATCH variant of the CPU experiment (with
#: ``gradmatch-pc-warm``, R = 5): a pool of three times the budget cycling through the data,
#: the fast solver
BEST_GRADMATCH = {"pool_factor": 3.0, "sampling": "cycle", "criterion": "correlation",
                  "per_step": 16}
#: goals, each reported as reached or not: OMP speedup over CORDS and ratio to the k-matvec
#: floor at 20000x850x2000, seconds at 50000x5130x5000, selection share, Fashion-MNIST seeds
GOALS = {"omp_speedup": 20.0, "omp_floor_ratio": 2.0, "omp_large_seconds": 5.0,
         "selection_share": 0.03, "seeds": 2}


# -- bookkeeping --------------------------------------------------------------
class Budget:
    """Seconds left of ``total`` since creation."""

    def __init__(self, total):
        self.total, self.t0 = float(total), time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.t0

    def remaining(self):
        return self.total - self.elapsed()


class _Tee:
    def __init__(self, stream, f):
        self.stream, self.f = stream, f

    def write(self, text):
        self.stream.write(text)
        self.f.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()
        self.f.flush()

    def isatty(self):
        return False


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def energy_meter(device):
    """An NVML meter (``kwh()``) and, when it cannot measure, why."""
    if device.type != "cuda":
        return None, "unavailable: not a CUDA device"
    meter = EnergyMeter(device)
    if meter.handle is not None:
        return meter, None
    if importlib.util.find_spec("pynvml") is None:
        return None, "unavailable: pynvml is not importable"
    return None, "unavailable: NVML gave no energy counter"


def archive(out, path):
    """Pack ``out`` into the ``.tar.gz`` file ``path`` (written whole, then renamed)."""
    root, tmp = os.path.abspath(out), path + ".tmp"
    skip = {os.path.abspath(path), os.path.abspath(tmp)}  # when path lies inside out

    def keep(member):
        return None if os.path.join(os.path.dirname(root), member.name) in skip else member

    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(root, arcname=os.path.basename(root), filter=keep)
    os.replace(tmp, path)


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _fmt(x, spec=".3g"):
    return "n/a" if x is None else format(x, spec)


def _verdict(ok, text):
    return f"{'reached' if ok else 'NOT reached'}: {text}"


# -- the parts ----------------------------------------------------------------
def _run_script(script, name, argv, args, out):
    """Run a benchmark script's ``main`` on ``argv`` (and the data folder); return its JSON
    result and the lines of its Markdown table, both read from ``out/<name>.*``."""
    script.main(argv + (["--data-dir", args.data_dir] if args.data_dir else []))
    with open(os.path.join(out, name + ".json"), encoding="utf-8") as f:
        result = json.load(f)
    with open(os.path.join(out, name + ".md"), encoding="utf-8") as f:
        return result, f.read().splitlines()


def run_device(settings, args, device, out):
    argv = ["--device", device.type, "--n-samples", str(settings["device_n"]), "--epochs",
            str(settings["device_T"]), "--R", str(settings["device_R"]), "--batch-size",
            str(settings["device_batch"]), "--out", out]
    return _run_script(device_check, "device_check", argv, args, out)


def omp_goals(rows):
    """The solver's goals (:data:`GOALS`), for the rows of the GPU sizes present in ``rows``."""
    lines = []
    for r in rows:
        size = (r["n"], r["d"], r["k"])
        ratio = r["ours_time"] / r["floor_time"]
        if size == (20000, 850, 2000):
            if r.get("cords_time"):
                speed, ok = r["cords_time"] / r["ours_time"], None
                ok = speed >= GOALS["omp_speedup"]
                text = f"{speed:.3g}x"
            else:
                speed = r.get("cords_timeout")
                ok = speed is not None and speed / r["ours_time"] >= GOALS["omp_speedup"]
                text = (f"> {speed / r['ours_time']:.3g}x (CORDS timed out)" if speed
                        else "CORDS failed")
            lines.append(f"- {r['matrix']} 20000x850x2000, >= {GOALS['omp_speedup']:g}x CORDS: "
                         + _verdict(ok, text))
            lines.append(f"- {r['matrix']} 20000x850x2000, within {GOALS['omp_floor_ratio']:g}x "
                         f"of the k-matvec floor: "
                         + _verdict(ratio <= GOALS["omp_floor_ratio"], f"{ratio:.3g}x"))
        if size == (50000, 5130, 5000):
            t = r["ours_time"]
            lines.append(f"- {r['matrix']} 50000x5130x5000 in < {GOALS['omp_large_seconds']:g} s: "
                         + _verdict(t < GOALS["omp_large_seconds"], f"{t:.3g} s"))
    return lines


def run_omp(settings, args, device, out):
    rows, lines = [], []
    for size, matrices, timeout_key in settings["omp"]:
        sub = os.path.join(out, "omp_vs_cords_" + size.split("x")[0])
        argv = ["--device", device.type, "--sizes", size, "--matrices", *matrices,
                "--cords-timeout", str(getattr(args, timeout_key)), "--repeats",
                str(settings["repeats"]), "--out", sub, "--quiet"]
        argv += (["--quick"] if args.small else []) + (
            ["--data-dir", args.data_dir] if args.data_dir else [])
        omp_vs_cords.main(argv)
        with open(os.path.join(sub, "omp_vs_cords.json"), encoding="utf-8") as f:
            rows += json.load(f)["rows"]
        with open(os.path.join(sub, "omp_vs_cords.md"), encoding="utf-8") as f:
            lines += f.read().splitlines()[2:] + [""]
    return {"rows": rows}, lines + (omp_goals(rows) or ["(no GPU size: goals not evaluated)"])


def run_per_class(settings, args, device, out):
    argv = ["--device", device.type, "--repeats", str(settings["repeats"]), "--out", out,
            "--n-samples", str(settings["per_class_n"])]
    return _run_script(per_class_omp, "per_class_omp", argv, args, out)


def has_strategy(name):
    try:
        parse_strategy(name)
    except ValueError:
        return False
    return True


def selection_costs(records):
    """Per subset strategy: rounds, seconds per round, round / full-data epoch, selection
    share of the wall-clock, energy; a full-data epoch is the mean over the full runs."""
    epochs = [r["fit_seconds"] / r["epochs_trained"] for r in records
              if r["kind"] in ("full", "full-frontier") and r["epochs_trained"]]
    epoch = _mean(epochs)
    groups = {}
    for r in records:
        if r["kind"] == "subset":
            groups.setdefault((r["strategy"], r["budget"]), []).append(r)
    rows = []
    for (name, budget), runs in sorted(groups.items()):
        sels = [s for r in runs for s in r["selections"]]
        grad = _mean([s.get("gradient_seconds", 0.0) for s in sels]) or 0.0
        solver = _mean([s.get("solver_seconds", 0.0) for s in sels]) or 0.0
        rows.append({"strategy": name, "budget": budget, "seeds": len(runs),
                     "rounds": _mean([r["n_selections"] for r in runs]),
                     "gradient_seconds": grad, "solver_seconds": solver,
                     "round_over_epoch": (grad + solver) / epoch if epoch else None,
                     "selection_share": _mean([(r["timing"]["gradients"] + r["timing"]["solver"])
                                               / r["timing"]["total"] for r in runs]),
                     "fit_seconds": _mean([r["fit_seconds"] for r in runs]),
                     "energy_kwh": _mean([r.get("energy_kwh") for r in runs])})
    return epoch, rows


def run_fmnist(settings, args, device, out, budget):
    """Seed after seed of each strategy group while the budget lasts."""
    rs2 = ["random-rs2"] if has_strategy("random-rs2") else []
    common = {"budgets": (0.1,), "epochs": settings["fm_T"], "batch_size": 64, "kappa": 0.5,
              "device": device.type, "model": "lenet5", "out": out, "quiet": True,
              "seeds": args.max_seeds,
              "frontier_epochs": settings["fm_frontier"]}
    if args.small:
        X, y, Xt, yt = load_fashion_mnist(args.data_dir)
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "fashion_mnist_slice.npz")
        np.savez(path, X_train=X[:settings["fm_train"]], y_train=y[:settings["fm_train"]],
                 X_test=Xt[:settings["fm_test"]], y_test=yt[:settings["fm_test"]])
        common.update(dataset="npz", data_dir=path)
    else:
        common.update(dataset="fashion-mnist", data_dir=args.data_dir)
    groups = [ExperimentConfig(strategies=("gradmatch-pc-warm",), R=5, tag="R5pool30fast",
                               selector_params=BEST_GRADMATCH, **common),
              ExperimentConfig(strategies=("full-frontier",), **common),
              ExperimentConfig(strategies=("random-warm", *rs2), **common)]
    groups = [g.resolved() for g in groups]
    data = load_data(groups[0])
    runs_dir = os.path.join(out, "runs")
    cost, seeds_done, stopped = {}, 0, None
    for seed in range(args.max_seeds):
        for i, cfg in enumerate(groups):
            grace = args.grace_s if seed < GOALS["seeds"] else 0.0
            if i in cost and budget.remaining() - args.reserve_s + grace < 1.1 * cost[i]:
                stopped = (f"seed {seed} of {', '.join(cfg.strategies)}: "
                           f"{budget.remaining():.0f} s left, {cost[i]:.0f} s needed")
                break
            t = time.perf_counter()
            specs = [s for s in plan_runs(cfg, len(data[1])) if s.seed == seed]
            execute(cfg, specs, data, runs_dir)
            cost[i] = time.perf_counter() - t
            log(f"fmnist: seed {seed}, strategies {', '.join(cfg.strategies)}: {cost[i]:.1f} s")
            if args.archive:
                archive(args.out, args.archive)
        if stopped:
            break
        seeds_done = seed + 1
    records = load_records(runs_dir)
    rows, paths = write_report(records, out)
    epoch, costs = selection_costs(records)
    lines = [f"Fashion-MNIST{' (small slice)' if args.small else ''}, LeNet-5, budget 0.1, "
             f"T = {settings['fm_T']}, batch 64, kappa 0.5, frontier E = "
             f"{', '.join(map(str, settings['fm_frontier']))}; {seeds_done} complete seed(s)"
             + (f" (stopped at {stopped})" if stopped else "") + "; RS2 "
             + ("included." if rs2 else "is not in this version of sksubset."), "", "```",
             format_table(rows), "```", "",
             f"A full-data epoch: {_fmt(epoch)} s (mean over the frontier runs).", "",
             "| strategy | seeds | rounds | forward pass (s/round) | solver (s/round) | "
             "round / full epoch | selection share | fit (s) | energy (kWh) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in costs:
        lines.append(f"| {c['strategy']} | {c['seeds']} | {_fmt(c['rounds'])} | "
                     f"{c['gradient_seconds']:.3f} | {c['solver_seconds']:.3f} | "
                     f"{_fmt(c['round_over_epoch'])} | {_fmt(c['selection_share'], '.1%')} | "
                     f"{_fmt(c['fit_seconds'])} | "
                     f"{_fmt(c['energy_kwh'], '.2e') if c['energy_kwh'] else 'unavailable'} |")
    lines += ["", f"- at least {GOALS['seeds']} seeds: "
              + _verdict(seeds_done >= GOALS["seeds"], f"{seeds_done}")]
    for c in costs:
        if c["strategy"].startswith("gradmatch"):
            share = c["selection_share"] or 0.0
            lines.append(f"- {c['strategy']}: selection <= {GOALS['selection_share']:.0%} of the "
                         f"wall-clock: " + _verdict(share <= GOALS["selection_share"],
                                                    f"{share:.1%}"))
    return {"seeds": seeds_done, "stopped": stopped, "rs2": bool(rs2), "rows": rows,
            "full_epoch_seconds": epoch, "selection_costs": costs,
            "files": list(paths.values())}, lines


# -- main ---------------------------------------------------------------------
def environment(device):
    env = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
           "command": " ".join(["python"] + [shlex.quote(a) for a in sys.argv]),
           "python": platform.python_version(), "torch": torch.__version__,
           "cuda": torch.version.cuda, "device": omp_vs_cords.device_name(device),
           "cpu_threads": torch.get_num_threads()}
    for name in ("numpy", "scipy", "sklearn", "skorch"):
        env[name] = getattr(sys.modules.get(name) or __import__(name), "__version__", "?")
    try:
        import pynvml
        pynvml.nvmlInit()
        env["driver"] = pynvml.nvmlSystemGetDriverVersion()
    except Exception as exc:  # no pynvml or no NVML: only the driver line is lost
        env["driver"] = f"unknown ({type(exc).__name__})"
    return env


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--print-command", action="store_true",
                   help="print the command for a GPU machine without skorch and exit")
    p.add_argument("--small", action="store_true", help="small sizes, CPU-friendly smoke run")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX .gz files")
    p.add_argument("--out", default=os.environ.get("OUT") or "results/gpu_check")
    p.add_argument("--archive", help="also pack --out into this .tar.gz after every part")
    p.add_argument("--budget-s", type=float, default=None,
                   help="seconds for the whole run (default 450; 300 with --small); the "
                        "Fashion-MNIST part stops adding seeds when they would not fit")
    p.add_argument("--grace-s", type=float, default=30.0,
                   help="seconds the first two Fashion-MNIST seeds may run past the budget")
    p.add_argument("--reserve-s", type=float, default=15.0,
                   help="seconds kept for the report at the end")
    p.add_argument("--max-seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 1 with --small, else torch's own)")
    p.add_argument("--cords-timeout", type=float, default=60.0,
                   help="CORDS's seconds on the first OMP size")
    p.add_argument("--cords-timeout-large", type=float, default=15.0,
                   help="CORDS's seconds on the second, large OMP size")
    args = p.parse_args(argv)
    if args.budget_s is None:
        args.budget_s = 300.0 if args.small else 450.0
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.print_command:
        print(DEVICE_COMMAND)
        return 0
    budget = Budget(args.budget_s)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and cuda)
                          else "cpu")
    settings = SETTINGS["small" if args.small else "gpu"]
    if args.threads or args.small:
        torch.set_num_threads(args.threads or 1)
    os.makedirs(args.out, exist_ok=True)
    logfile = open(os.path.join(args.out, "gpu_check.log"), "a", encoding="utf-8")
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(sys.stdout, logfile), _Tee(sys.stderr, logfile)
    summary = {"environment": environment(device), "budget_s": args.budget_s, "parts": {}}
    md = [f"# sksubset on {summary['environment']['device']}", "",
          f"`{summary['environment']['command']}`  ",
          ", ".join(f"{k} {v}" for k, v in summary["environment"].items()
                    if k not in ("command", "device")), ""]
    failed = False
    try:
        for part in args.parts:
            log(f"{part}: start ({budget.remaining():.0f} s of the budget left)")
            meter, why = energy_meter(device)
            t = time.perf_counter()
            sub = os.path.join(args.out, part)
            try:
                if part == "device":
                    result, lines = run_device(settings, args, device, sub)
                    failed |= not result["passed"]
                elif part == "omp":
                    result, lines = run_omp(settings, args, device, sub)
                elif part == "per-class":
                    result, lines = run_per_class(settings, args, device, sub)
                else:
                    result, lines = run_fmnist(settings, args, device, sub, budget)
            except Exception:
                failed = True
                result, lines = {"error": traceback.format_exc()}, [
                    "FAILED:", "```", traceback.format_exc().rstrip(), "```"]
                log(f"{part}: FAILED\n{result['error']}")
            seconds = time.perf_counter() - t
            kwh = meter.kwh() if meter is not None else None
            result.update(seconds=seconds, energy_kwh=kwh, energy=why or "NVML")
            summary["parts"][part] = result
            md += [f"## {part}", "", f"{seconds:.1f} s; GPU energy: "
                   + (f"{kwh:.3e} kWh" if kwh is not None else why or "unavailable"), ""]
            md += lines + [""]
            with open(os.path.join(args.out, "gpu_check.md"), "w", encoding="utf-8") as f:
                f.write("\n".join(md))
            with open(os.path.join(args.out, "gpu_check.json"), "w", encoding="utf-8") as f:
                json.dump(summary, f, indent=1, default=str)
            log(f"{part}: done in {seconds:.1f} s ({budget.remaining():.0f} s left)")
            if args.archive:
                archive(args.out, args.archive)
        print("\n".join(md))
        log(f"total {budget.elapsed():.1f} s; {'FAILED' if failed else 'all parts ran'}")
    finally:
        sys.stdout, sys.stderr = streams
        logfile.close()
        if args.archive:
            archive(args.out, args.archive)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
