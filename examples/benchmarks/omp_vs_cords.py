"""Benchmark: our batched NNLS-OMP solver against the CORDS reference, side by side.

What it measures
----------------
For each matrix ``A`` (``n`` candidate gradients of dimension ``d``, one per
row), target ``b = A.sum(0)`` (the full gradient) and budget ``k``, the
regularized non-negative OMP of GRAD-MATCH (a ridge of 0.5, CORDS's absolute
``lam=0.5``, given to sksubset as its relative ``lam = 0.5 / mean_i ||a_i||^2``;
``positive=True``) is solved by

* **ours**: :func:`sksubset.omp.omp_batched` (``tol=1e-10``), median time of
  ``--repeats`` runs after a warm-up on a tiny problem;
* **CORDS**: ``OrthogonalMP_REG_Parallel`` of ``cords==0.0.4`` (its
  ``selectionstrategies/helpers/omp_solvers.py`` loaded alone, given ``A.T``
  as its atoms are columns, ``tol=1e-5``: the relative residual of our
  ``tol``), one timed run in a spawned subprocess killed after
  ``--cords-timeout`` seconds;
* **floor**: ``k`` float32 products ``A @ v`` on the same device, the
  bandwidth floor of a greedy OMP reading ``A`` once per selected atom.

Both solutions are scored the same way, in float64, from the indices and
weights they return: ``atoms`` = distinct indices with a nonzero weight,
``rel. err`` = ``||A_S^T w - b|| / ||b||``; the CSV/JSON add the regularized
objective ``(||A_S^T w - b||^2 + lam ||w||^2) / ||b||^2`` and the least weight.

Matrices: ``synthetic`` (:func:`synthetic`: rank-20 factors with a shared mean
direction plus noise, log-normal row norms, seeded) and ``real`` (last-layer
gradients of nets trained one epoch on Fashion-MNIST with skorch,
:class:`RealGradients`: LeNet-5 for ``d = 850``, as mean gradients of random
mini-batches of 64 when ``n`` is their number (938 for 60000 images); a
784-512-10 MLP for ``d = 513`` (own-class slice of class 0's examples) and
``d = 5130``; without the IDX files MLPs on sklearn's digits, rows tiled up to
``n``).  The notes under the table say where each matrix came from.

Reproduce (writes ``omp_vs_cords.{md,csv,json}`` under ``--out``, default
``./results/omp_vs_cords``)::

    python examples/benchmarks/omp_vs_cords.py --device cpu
    python examples/benchmarks/omp_vs_cords.py --device cuda   # adds 50000x5130x5000
    python examples/benchmarks/omp_vs_cords.py --quick         # smoke test, < 1 min

Reading the table
-----------------
Times are seconds.  ``ours/floor`` is how many matrix-vector passes' worth of
time our solver takes per selected atom (1.0 would be bandwidth-optimal);
``CORDS/ours`` is our speedup (``> x`` when CORDS hit the timeout).  ``atoms``
below ``k`` means an early stop (CORDS stops as soon as an atom comes back;
ours only at the error tolerance or when every candidate was tried).  When
CORDS stops short, the last column solves our problem again with ``k`` set to
CORDS's atom count, for a like-for-like time and error.
"""

import argparse
import csv
import datetime
import importlib.util
import json
import multiprocessing as mp
import os
import queue
import shlex
import statistics
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from torch import nn
from tqdm.auto import tqdm

from sksubset.experiments.datasets import load_fashion_mnist
from sksubset.gradients import (
    batch_gradients,
    class_gradients,
    last_layer,
    random_batches,
    sample_gradients,
)
from sksubset.omp import omp_batched

LAM, TOL, CORDS_TOL = 0.5, 1e-10, 1e-5
SIZES = ["938x850x94", "5000x513x500", "10000x850x1000", "20000x850x2000"]
GPU_SIZES = ["50000x5130x5000"]
QUICK_SIZES = ["100x850x10", "500x513x50", "1000x850x100"]
N_CLASSES, BATCH = 10, 64


def timed(fn, device):
    """Wall time of ``fn()``, CUDA synchronized on both sides, and its result."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def score(A, b64, idx, w):
    """Distinct atoms of nonzero weight, float64 errors, least weight."""
    idx, w = idx.to(A.device).long(), w.to(A.device, torch.float64)
    r = A[idx].to(torch.float64).T @ w - b64
    return {"atoms": int(torch.unique(idx[w != 0]).numel()),
            "rel_err": float(r.norm() / b64.norm()),
            "reg_obj": float((r @ r + LAM * (w @ w)) / (b64 @ b64)),
            "min_w": float(w.min()) if len(w) else None}


# -- matrices ---------------------------------------------------------------
def synthetic(n, d, seed, rank=20):
    """Gradient-like rows ``U V + noise`` rescaled to log-normal norms, seeded by (seed, n, d).

    ``U ~ N(0.3, 1)`` (n x rank; the 0.3 mean gives the rows a common
    direction, as per-example gradients share the descent direction),
    ``V ~ N(0, 1/d)``, noise ``N(0, 0.25 rank / d)`` (half the signal's norm);
    each row is then rescaled to the norm ``exp(N(0, 1))``.
    """
    rng = np.random.default_rng([seed, n, d])
    U = rng.normal(0.3, 1.0, (n, rank)).astype(np.float32)
    V = rng.standard_normal((rank, d), dtype=np.float32) / d ** 0.5  # python floats keep float32
    A = U @ V + rng.standard_normal((n, d), dtype=np.float32) * (0.5 * (rank / d) ** 0.5)
    A *= (np.exp(rng.normal(0.0, 1.0, n)) / np.linalg.norm(A, axis=1)).astype(np.float32)[:, None]
    return torch.from_numpy(A), f"synthetic rank-{rank} + noise, log-normal row norms, seed {seed}"


def make_net(X, hidden):
    """LeNet-5 (28x28 images, 84-unit penultimate layer) or an ``in-hidden-10`` MLP."""
    if X.ndim == 4 and hidden == 84:
        return "LeNet-5", nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, N_CLASSES))
    n_in = int(np.prod(X.shape[1:]))
    return f"MLP {n_in}-{hidden}-{N_CLASSES}", nn.Sequential(
        nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, N_CLASSES))


class RealGradients:
    """Last-layer gradients of small nets trained with skorch, built lazily per
    penultimate width (84: LeNet-5, or an MLP on digits; 512: MLP), on
    Fashion-MNIST from ``data_dir`` (its first 6400 images with ``quick``) or
    sklearn's digits."""

    def __init__(self, device, seed, quick, data_dir=None):
        try:
            self.X, self.y = load_fashion_mnist(data_dir)[:2]
            self.dataset, self.epochs = "Fashion-MNIST", 1
        except FileNotFoundError:
            X, y = load_digits(return_X_y=True)
            self.X, self.y = (X / 16).astype(np.float32), y.astype(np.int64)
            self.dataset, self.epochs = "digits", 10
        if quick:
            self.X, self.y = self.X[:6400], self.y[:6400]
        self.device, self.seed, self.cache = device, seed, {}

    def factors(self, hidden):
        if hidden not in self.cache:
            torch.manual_seed(self.seed)
            name, module = make_net(self.X, hidden)
            net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss,
                                      optimizer=torch.optim.Adam, lr=1e-3, batch_size=128,
                                      max_epochs=self.epochs, train_split=None,
                                      device=self.device, verbose=0)
            net.fit(self.X, self.y)
            self.cache[hidden] = (last_layer(net, self.X, self.y), name)
        return self.cache[hidden]

    def matrix(self, n, d, seed):
        N, rng = len(self.y), np.random.default_rng([seed, n, d])
        full = d % N_CLASSES == 0 and d // N_CLASSES - 1 in (84, 512)
        if not full and d - 1 not in (84, 512):
            return None, f"no real gradients with d={d}"
        ll, name = self.factors(d // N_CLASSES - 1 if full else d - 1)
        where = f"{name} on {self.dataset} ({N} ex., {self.epochs} epoch(s))"
        if full and n == -(-N // BATCH):
            A = batch_gradients(ll.E, ll.Hb, random_batches(N, BATCH, rng))
            what = f"mean gradients of {n} random mini-batches of {BATCH}"
        elif full:
            sub = ll[torch.as_tensor(rng.permutation(N)[:n], device=ll.E.device)]
            A, what = sample_gradients(sub.E, sub.Hb), "per-example gradients"
        else:
            sub = ll[ll.y == 0]
            A, what = class_gradients(sub.E, sub.Hb, sub.y), "own-class slice of class 0's examples"
        if len(A) < n:
            what += f", {len(A)} rows tiled to {n}"
            A = A[torch.arange(n, device=A.device) % len(A)]
        return A[:n].float(), f"{what}; {where}"


# -- solvers ----------------------------------------------------------------
def relative_lam(A):
    """sksubset's ``lam`` (relative to the rows' mean squared norm) whose ridge is CORDS's
    absolute ``LAM``: both solve the same problem."""
    return LAM / float((A.double() ** 2).sum(1).mean())


def run_ours(A, b, k, repeats, device):
    lam = relative_lam(A)
    runs = [timed(lambda: omp_batched(A[None], b[None], [k], lam=lam, tol=TOL, positive=True)[0],
                  device) for _ in range(repeats)]
    res = runs[-1][1]
    return {"time": statistics.median(t for t, _ in runs), "selected": len(res.indices),
            "rounds": res.n_rounds, **score(A, b, res.indices, res.weights)}


def matvec_floor(A, k, repeats, device):
    v = torch.randn(A.shape[1], device=A.device)
    A @ v  # warm-up
    return statistics.median(timed(lambda: [A @ v for _ in range(k)], device)[0]
                             for _ in range(repeats))


def load_cords_solver():
    """``OrthogonalMP_REG_Parallel`` from CORDS' omp_solvers.py, without ``import cords``."""
    spec = importlib.util.find_spec("cords")
    if spec is None:
        raise ImportError("CORDS is not installed: pip install --no-deps cords==0.0.4")
    path = os.path.join(list(spec.submodule_search_locations)[0],
                        "selectionstrategies", "helpers", "omp_solvers.py")
    old = np.geterr()
    try:
        mod_spec = importlib.util.spec_from_file_location("cords_omp_solvers", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)  # runs np.seterr(all='raise')
    finally:
        np.seterr(**old)
    return module.OrthogonalMP_REG_Parallel


def cords_worker(path, k, device, threads, q):
    """Subprocess body: load the matrix, warm up, signal ready, time one CORDS solve."""
    try:
        torch.set_num_threads(threads)
        solver = load_cords_solver()
        data = np.load(path)
        A = torch.from_numpy(data["A"]).to(device)
        b64 = torch.from_numpy(data["b"]).to(device)
        b = b64.float()

        def solve(M, t, nnz):
            return solver(M, t, nnz=nnz, positive=True, lam=LAM, tol=CORDS_TOL, device=device)

        warm = torch.randn(32, 16, device=device)
        solve(warm.T, warm.sum(0), 4)
        q.put(("ready", None))
        t, x = timed(lambda: solve(A.T, b, k), device)
        nz = torch.nonzero(x).flatten()
        q.put(("done", {"time": t, **score(A, b64, nz, x[nz])}))
    except Exception:
        q.put(("error", traceback.format_exc()))


def _receive(q, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return q.get(timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
        except queue.Empty:
            if not proc.is_alive():
                return ("error", f"CORDS worker died (exit code {proc.exitcode})")
    return ("timeout", None)


def run_cords(A, b, k, device, timeout, tmpdir):
    path = os.path.join(tmpdir, "problem.npz")
    np.savez(path, A=A.cpu().numpy(), b=b.cpu().numpy())
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=cords_worker, args=(path, k, str(device), torch.get_num_threads(), q))
    proc.start()
    try:
        status, payload = _receive(q, proc, 600)  # start-up: imports, load, warm-up
        if status == "ready":
            status, payload = _receive(q, proc, timeout)
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()
        os.remove(path)
    if status == "done":
        return payload
    if status == "timeout":
        return {"time": None, "timeout": timeout}
    print(f"CORDS run failed (n={len(A)}, k={k}):\n{payload}", file=sys.stderr)
    return {"time": None, "error": str(payload).strip().splitlines()[-1]}


# -- report -----------------------------------------------------------------
def fmt(x, spec=".3g"):
    return "n/a" if x is None else format(x, spec)


def markdown(rows, meta):
    head = ["matrix", "n x d", "k", "ours (s)", "atoms", "rel. err", "CORDS (s)", "atoms",
            "rel. err", "floor (s)", "ours/floor", "CORDS/ours",
            "ours at CORDS's atom count (s, rel. err)"]
    lines = [f"# OMP: ours vs CORDS ({meta['device_name']})", "",
             f"`{meta['command']}`  ", f"torch {meta['torch']}, {meta['date']}, "
             f"{meta['threads']} CPU threads, lam={LAM}, positive=True", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        timeout = r.get("cords_timeout")
        cords_t = (f"> {timeout:g} s, did not finish" if timeout
                   else "failed" if "cords_error" in r else fmt(r["cords_time"]))
        speed = (f"> {fmt(timeout / r['ours_time'])}" if timeout
                 else fmt(r["cords_time"] / r["ours_time"]) if r.get("cords_time") else "n/a")
        lines.append("| " + " | ".join([
            r["matrix"], f"{r['n']} x {r['d']}", str(r["k"]), fmt(r["ours_time"]),
            str(r["ours_atoms"]), fmt(r["ours_rel_err"], ".4f"), cords_t,
            str(r.get("cords_atoms", "n/a")), fmt(r.get("cords_rel_err"), ".4f"),
            fmt(r["floor_time"]), fmt(r["ours_time"] / r["floor_time"]), speed,
            (f"{fmt(r['ours_at_cords_k_time'])}, {fmt(r['ours_at_cords_k_rel_err'], '.4f')}"
             if "ours_at_cords_k_time" in r else "")]) + " |")
    lines += ["", "Matrices:"] + [f"- {m} {s}: {src}" for m, s, src in meta["sources"]]
    return "\n".join(lines) + "\n"


def write_outputs(rows, meta, out):
    """Write the table, JSON and CSV (after every row, so a long run keeps what it did)."""
    os.makedirs(out, exist_ok=True)
    table = markdown(rows, meta)
    with open(os.path.join(out, "omp_vs_cords.md"), "w") as f:
        f.write(table)
    with open(os.path.join(out, "omp_vs_cords.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    with open(os.path.join(out, "omp_vs_cords.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    return table


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "CPU"
    return f"{model} ({os.cpu_count()} logical cores)"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--sizes", nargs="+", metavar="NxDxK",
                   help="problem sizes (default: all; 50000x5130x5000 only on CUDA)")
    p.add_argument("--matrices", nargs="+", choices=["synthetic", "real"],
                   default=["synthetic", "real"])
    p.add_argument("--quick", action="store_true", help=f"tiny sizes {QUICK_SIZES}, smoke test")
    p.add_argument("--repeats", type=int, default=3, help="timings of ours (median)")
    p.add_argument("--cords-timeout", type=float, help="seconds (default 600 CPU, 420 GPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files of the real "
                   "matrices (default: where dataset-fashion-mnist installs them)")
    p.add_argument("--out", default="./results/omp_vs_cords")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and cuda)
                          else "cpu")
    sizes = args.sizes or (QUICK_SIZES if args.quick
                           else SIZES + (GPU_SIZES if device.type == "cuda" else []))
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in sizes]
    timeout = args.cords_timeout or (420.0 if device.type == "cuda" else 600.0)
    meta = {"device_name": device_name(device), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(["python"] + [shlex.quote(a) for a in sys.argv]),
            "cords_timeout_s": timeout, "sources": []}
    real = (RealGradients(device, args.seed, args.quick, args.data_dir)
            if "real" in args.matrices else None)
    warm = torch.randn(64, 32, device=device)
    omp_batched(warm[None], warm.sum(0)[None], [4], lam=relative_lam(warm), tol=TOL,
                positive=True)
    rows = []
    tasks = [(m, s) for s in sizes for m in args.matrices]
    with tempfile.TemporaryDirectory() as tmpdir:
        for matrix, (n, d, k) in tqdm(tasks, disable=args.quiet, desc="omp_vs_cords"):
            A, source = (synthetic(n, d, args.seed) if matrix == "synthetic"
                         else real.matrix(n, d, args.seed))
            meta["sources"].append((matrix, f"{n}x{d}x{k}", source))
            if A is None:
                continue
            A = A.to(device, torch.float32).contiguous()
            b = A.sum(0, dtype=torch.float64)
            row = {"matrix": matrix, "n": n, "d": d, "k": k}
            ours = run_ours(A, b, k, args.repeats, device)
            row.update({f"ours_{key}": v for key, v in ours.items()})
            row["floor_time"] = matvec_floor(A, k, args.repeats, device)
            cords = run_cords(A, b, k, device, timeout, tmpdir)
            row.update({f"cords_{key}": v for key, v in cords.items()})
            if 0 < cords.get("atoms", k) < k:  # CORDS stopped short: ours at its atom count
                same = run_ours(A, b, cords["atoms"], args.repeats, device)
                row.update({"ours_at_cords_k_time": same["time"],
                            "ours_at_cords_k_rel_err": same["rel_err"]})
            rows.append(row)
            write_outputs(rows, meta, args.out)
            del A, b
    print(write_outputs(rows, meta, args.out), end="")
    print(f"(written to {os.path.abspath(args.out)}/omp_vs_cords.{{md,csv,json}})")


if __name__ == "__main__":
    main()
