"""Which ways of making the OMP solver cheaper pay: time and gradient error of each.

Two problems, the gradients of LeNet-5 after one epoch on Fashion-MNIST (the
factors of ``per_class_omp.py``):

* ``per-class``: one selection round of per-class GRAD-MATCH (10 classes of
  about 6 000 examples, 600 atoms each), on the factors
  (:class:`~sksubset.omp.OuterProductAtoms`), as a training run solves it;
* ``dense``: 10 000 random examples' explicit per-example gradients
  (``d = 850``), ``k = 1000``, the size of ``omp_vs_cords.py``'s middle
  problem, also solved by CORDS's ``OrthogonalMP_REG_Parallel`` when
  ``cords`` is installed (``tol=1e-5``; it stops early).

Each row is one setting of :func:`sksubset.omp.omp_batched`: the exact greedy
search (``per_step=1``) and its approximations (``per_step`` atoms per step,
``sketch`` columns).  Seconds are the process's
CPU time on one torch thread (median of ``--repeats``), which other work on a
shared machine does not inflate; the error is ``||A_S^T w - b|| / ||b||``
(per class: the mean over the classes), with its ratio to the exact search's.

Run::

    python examples/benchmarks/omp_levers.py [--out DIR] [--factors FILE]

``--factors`` caches the trained net's factors (a ``.pt`` file, written when
missing).  Writes ``omp_levers.md`` and ``.json`` under ``--out`` (default
``$OUT`` or ``results/omp_levers``).
"""

import argparse
import functools
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

from sksubset.gradients import sample_gradients
from sksubset.omp import DenseAtoms, OuterProductAtoms, omp_batched
from sksubset.omp._basis import BasisSearch  # private: the basis search, forced below
from sksubset.omp._options import SearchOptions
from sksubset.omp._scale import mean_sqnorm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from per_class_omp import factors, pad  # noqa: E402

SETTINGS = [("exact greedy (default)", {}),
            ("4 atoms per step", {"per_step": 4}),
            ("16 atoms per step", {"per_step": 16}),
            ("correlation rule", {"criterion": "correlation"}),
            ("correlation, 16 per step, orthonormal basis", {"criterion": "correlation",
                                                             "per_step": 16, "basis": True}),
            ("correlation, 16 per step", {"criterion": "correlation", "per_step": 16}),
            ("correlation, 32 per step", {"criterion": "correlation", "per_step": 32}),
            ("sketch 32", {"sketch": 32}),
            ("sketch 16, 16 per step", {"sketch": 16, "per_step": 16})]


def solve_with(A, b, k, valid, opts):
    """``omp_batched``; ``basis=True`` forces the orthonormal-basis search where
    ``omp_batched`` would take the Cholesky search (the correlation rule with ``lam > 0``)."""
    opts = dict(opts)
    if not opts.pop("basis", False):
        return omp_batched(A, b, k, valid=valid, **opts)
    if isinstance(A, torch.Tensor):
        A = DenseAtoms(A)
    if valid is None:
        valid = torch.ones(A.shape[:2], dtype=torch.bool)
    # the absolute ridge omp_batched's default relative lam=0.05 gives these atoms
    options = SearchOptions(lam=0.05 * mean_sqnorm(A, valid), tol=1e-10, positive=True,
                            check_every=8, max_rounds=32, **opts)
    return BasisSearch(A, b, list(k), valid, options).solve()


def cpu_timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return statistics.median(times), out


def rel_error(rows, weights, target):
    return float((weights.double() @ rows.double() - target).norm() / target.norm())


def per_class_problem(E, Hb, y):
    rows = [torch.nonzero(y == c).squeeze(1) for c in range(10)]
    Ep, valid = pad([E[r] for r in rows])
    Hp, _ = pad([Hb[r] for r in rows])
    targets = torch.stack([sample_gradients(E[r], Hb[r]).sum(0) for r in rows]).double()
    k = [len(r) // 10 for r in rows]

    def solve(opts):
        return solve_with(OuterProductAtoms(Ep, Hp), targets, k, valid, opts)

    def error(res):
        return float(np.mean([rel_error(sample_gradients(Ep[c, r.indices], Hp[c, r.indices]),
                                        r.weights, targets[c]) for c, r in enumerate(res)]))
    return solve, error


def dense_problem(E, Hb):
    idx = torch.as_tensor(np.random.default_rng(0).permutation(len(E))[:10000])
    A = sample_gradients(E[idx], Hb[idx]).float()
    b = A.double().sum(0)

    def solve(opts):
        return solve_with(A[None], b[None], [1000], None, opts)

    def error(res):
        return rel_error(A[res[0].indices], res[0].weights, b)
    return solve, error, A, b


def cords_row(A, b, repeats):
    try:
        from omp_vs_cords import CORDS_TOL, LAM, load_cords_solver
        solver = load_cords_solver()
    except Exception as exc:  # cords not installed
        return {"setting": "CORDS OrthogonalMP_REG_Parallel", "error": f"not run: {exc}"}
    t, x = cpu_timed(lambda: solver(A.T, b.float(), nnz=1000, positive=True, lam=LAM,
                                    tol=CORDS_TOL, device="cpu"), repeats)
    nz = torch.nonzero(x).flatten()
    return {"setting": "CORDS OrthogonalMP_REG_Parallel", "seconds": t,
            "rel_err": rel_error(A[nz], x[nz], b), "atoms": int(len(nz))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--factors", default=None, help="cache file of the net's factors (.pt)")
    p.add_argument("--out", default=os.environ.get("OUT") or "results/omp_levers")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.factors and os.path.exists(args.factors):
        f = torch.load(args.factors)
        E, Hb, y, source = f["E"], f["Hb"], f["y"], f["source"]
    else:
        E, Hb, y, source = factors(torch.device("cpu"))
        if args.factors:
            torch.save({"E": E, "Hb": Hb, "y": y, "source": source}, args.factors)
    results = {}
    solve_pc, err_pc = per_class_problem(E, Hb, y)
    solve_d, err_d, A, b = dense_problem(E, Hb)
    for name, solve, error in (("per-class", solve_pc, err_pc), ("dense", solve_d, err_d)):
        rows = []
        for label, opts in SETTINGS:
            t, res = cpu_timed(functools.partial(solve, opts), args.repeats)
            rows.append({"setting": label, "options": opts, "seconds": t, "rel_err": error(res),
                         "atoms": int(sum(len(r.indices) for r in res)),
                         "rounds": int(max(r.n_rounds for r in res))})
            print(f"{name:9s} {label:28s} {t:7.3f} s  {rows[-1]['rel_err']:.5f}", flush=True)
        if name == "dense":
            rows.append(cords_row(A, b, args.repeats))
            print(rows[-1], flush=True)
        results[name] = rows
    os.makedirs(args.out, exist_ok=True)
    lines = [f"Factors: {source}. CPU seconds on one torch thread, median of {args.repeats}.", ""]
    for name, rows in results.items():
        ref_t, ref_e = rows[0]["seconds"], rows[0]["rel_err"]
        lines += [f"### {name}", "", "| setting | CPU s | speedup | rel. error | error / exact "
                  "| atoms | NNLS rounds |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            if "seconds" not in r:
                lines.append(f"| {r['setting']} | {r['error']} | | | | | |")
                continue
            lines.append(f"| {r['setting']} | {r['seconds']:.3f} | {ref_t / r['seconds']:.2f} | "
                         f"{r['rel_err']:.5f} | {r['rel_err'] / ref_e:.2f} | {r['atoms']} | "
                         f"{r.get('rounds', '')} |")
        lines.append("")
    with open(os.path.join(args.out, "omp_levers.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(args.out, "omp_levers.json"), "w") as f:
        json.dump({"source": source, "results": results}, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
