"""Which OMP rule matches gradients best: ``criterion="gain"``, ``"correlation"`` or CORDS.

For each matrix, the same non-negative regularized problem (CORDS's absolute
``lam=0.5``, given to sksubset as the relative ``lam = 0.5 / mean_i ||a_i||^2``;
target = sum of the rows, ``k`` atoms) is solved by our OMP with both selection rules
and by CORDS's ``OrthogonalMP_REG_Parallel``; the table gives each regularized
objective ``(||A_S^T w - b||^2 + lam ||w||^2) / ||b||^2`` relative to CORDS's
(below 1: lower error than CORDS).

Matrices: dense random ``N(0, 1) + offset`` (200 x 30, k=20: not gradient-like,
included because it is where the rules differ most), and real last-layer
gradients of an MLP trained 2 epochs on sklearn's digits (per example, random
subsets of 600 rows, k=40) and of LeNet-5 trained one epoch on Fashion-MNIST
when its IDX files are installed (per example, 2000 rows, k=100; and the 938
mini-batch gradients of batch 64, k=94).

Run::

    python examples/benchmarks/omp_criteria.py [--out DIR]

Writes ``omp_criteria.md`` and ``.json`` under ``--out`` (default
``results/omp_criteria``).  Needs ``pip install --no-deps cords==0.0.4``.
"""

import argparse
import importlib.util
import json
import os

import numpy as np
import torch

from sksubset.omp import orthogonal_matching_pursuit

LAM = 0.5


def load_cords():
    spec = importlib.util.find_spec("cords")
    if spec is None:
        raise SystemExit("CORDS is needed: pip install --no-deps cords==0.0.4")
    path = os.path.join(spec.submodule_search_locations[0],
                        "selectionstrategies", "helpers", "omp_solvers.py")
    saved = np.geterr()
    try:
        sp = importlib.util.spec_from_file_location("cords_omp_solvers", path)
        mod = importlib.util.module_from_spec(sp)
        sp.loader.exec_module(mod)
    finally:
        np.seterr(**saved)  # the file sets np.seterr(all='raise')
    return mod.OrthogonalMP_REG_Parallel


def objective(A, b, idx, w):
    A, w = np.asarray(A, dtype=np.float64), np.asarray(w, dtype=np.float64)
    r = b - w @ A[np.asarray(idx, dtype=np.int64)]
    return float((r @ r + LAM * w @ w) / (b @ b))


def trained_gradients(name):
    """Per-example last-layer gradients of a briefly trained net (and the fitted net's data)."""
    from skorch import NeuralNetClassifier

    from sksubset.experiments.datasets import load_dataset
    from sksubset.experiments.models import make_net, module_kwargs
    from sksubset.gradients import last_layer

    model = "mlp" if name == "digits" else "lenet5"
    X, y, _, _ = load_dataset(name)
    torch.manual_seed(0)
    net = make_net(model, module_kwargs(model, X, 10), 2 if name == "digits" else 1, 64, 0.05,
                   "cpu")
    assert isinstance(net, NeuralNetClassifier)
    net.fit(X, y)
    return last_layer(net, torch.from_numpy(X), y)


def problems():
    """(name, A, k) triples."""
    from sksubset.gradients import batch_gradients, random_batches, sample_gradients

    for seed in range(6):
        rng = np.random.default_rng(seed)
        for offset in (0.0, 0.2, 1.0):
            yield f"random N(0,1)+{offset}, seed {seed}", rng.normal(size=(200, 30)) + offset, 20
    ll = trained_gradients("digits")
    G = sample_gradients(ll.E, ll.Hb).numpy()
    for seed in range(3):
        rows = np.random.default_rng(seed).choice(len(G), 600, replace=False)
        yield f"digits MLP, per example, seed {seed}", G[rows], 40
    try:
        ll = trained_gradients("fashion-mnist")
    except FileNotFoundError:
        return
    G = sample_gradients(ll.E, ll.Hb).numpy()
    for seed in range(3):
        rows = np.random.default_rng(seed).choice(len(G), 2000, replace=False)
        yield f"Fashion-MNIST LeNet-5, per example, seed {seed}", G[rows], 100
    batches = random_batches(len(G), 64, np.random.default_rng(0))
    Gb = batch_gradients(ll.E, ll.Hb, batches).numpy()
    yield "Fashion-MNIST LeNet-5, 938 mini-batches", Gb, 94


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/omp_criteria")
    args = parser.parse_args(argv)
    cords = load_cords()
    rows = []
    for name, A, k in problems():
        A = np.asarray(A, dtype=np.float32)
        b = A.astype(np.float64).sum(0)
        x = cords(torch.from_numpy(A.T.copy()), torch.from_numpy(b.astype(np.float32)), nnz=k,
                  positive=True, lam=LAM, tol=1e-10).double().numpy()
        nz = np.flatnonzero(x)
        row = {"matrix": name, "n": A.shape[0], "d": A.shape[1], "k": k,
               "cords": objective(A, b, nz, x[nz]), "cords_atoms": len(nz)}
        for criterion in ("gain", "correlation"):
            # sksubset's lam is relative to the rows' mean squared norm: the same ridge LAM
            lam = LAM / float((A.astype(np.float64) ** 2).sum(1).mean())
            idx, w = orthogonal_matching_pursuit(A, b, k, lam=lam, criterion=criterion)
            row[criterion] = objective(A, b, idx, w)
        rows.append(row)
        print(f"{name:45s} gain/CORDS {row['gain'] / row['cords']:.3f}  "
              f"correlation/CORDS {row['correlation'] / row['cords']:.3f}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    lines = ["| matrix | n x d | k | CORDS objective (atoms) | gain / CORDS | "
             "correlation / CORDS |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['matrix']} | {r['n']} x {r['d']} | {r['k']} | {r['cords']:.3e} "
              f"({r['cords_atoms']}) | {r['gain'] / r['cords']:.3f} | "
              f"{r['correlation'] / r['cords']:.3f} |" for r in rows]
    with open(os.path.join(args.out, "omp_criteria.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "omp_criteria.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
