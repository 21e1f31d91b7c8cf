"""How to solve GRAD-MATCH's per-class OMPs fastest: loop, batch, or factors.

One selection round of per-class GRAD-MATCH on Fashion-MNIST-sized data
(60 000 examples, 10 classes, last layer of LeNet-5: 84 hidden units, so
``C (H + 1) = 850`` gradient columns, budget 10%: 600 atoms per class) solved
four ways (the first three solve the same problems; float32 rounding in the
different products can flip near-ties, so the table gives the share of picks
each way has in common with the loop):

* ``loop, dense``: one OMP per class, a Python loop over the classes, each on
  its explicit ``(6000, 850)`` gradient matrix;
* ``batched, dense``: the 10 problems advance together in one greedy loop
  (:func:`sksubset.omp.omp_batched` on a ``(10, 6000, 850)`` tensor);
* ``batched, factors``: the same on the gradients' factors ``E`` and ``[1, h]``
  (:class:`sksubset.omp.OuterProductAtoms`), never forming the gradients;
  what :meth:`GradMatchSelector.select` does in a training run;
* ``batched, per gradient``: the per-class-per-gradient approximation, each
  class on its own 85 columns (the paper's code's default).

The factors are those of a real LeNet-5 after one epoch of training when the
Fashion-MNIST IDX files are installed, else random ones of the same shapes.
Each timing is the median of ``--repeats`` runs.

Run::

    python examples/benchmarks/per_class_omp.py [--device cpu|cuda] [--out DIR]

(``--n-samples`` takes the first examples only, for a smoke test; ``--data-dir``
is the folder of the Fashion-MNIST IDX files.)

Writes ``per_class_omp.md`` and ``.json`` under ``--out`` (default
``results/per_class_omp``).
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from sksubset.experiments.runner import sync
from sksubset.gradients import class_gradients, sample_gradients
from sksubset.omp import OuterProductAtoms, omp_batched


def factors(device, n=60000, data_dir=None):
    """(E, Hb, y) of ``n`` examples: a trained LeNet-5's, or random ones."""
    try:
        from sksubset.experiments.datasets import load_fashion_mnist
        from sksubset.experiments.models import make_net, module_kwargs
        from sksubset.gradients import last_layer

        X, y, _, _ = load_fashion_mnist(data_dir)
        X, y = X[:n], y[:n]
        torch.manual_seed(0)
        net = make_net("lenet5", module_kwargs("lenet5", X, 10), 1, 64, 0.01, device)
        net.fit(X, y)
        ll = last_layer(net, torch.from_numpy(X), y)
        return ll.E, ll.Hb, ll.y, "LeNet-5 after one epoch on Fashion-MNIST"
    except FileNotFoundError:
        g = torch.Generator().manual_seed(0)
        y = torch.arange(n) % 10
        Z = torch.randn(n, 10, generator=g)
        E = torch.softmax(Z, 1) - torch.nn.functional.one_hot(y, 10).float()
        Hb = torch.cat([torch.ones(n, 1), torch.randn(n, 84, generator=g).relu()], 1)
        return E.to(device), Hb.to(device), y.to(device), "random factors of the same shapes"


def pad(blocks):
    out = blocks[0].new_zeros((len(blocks), max(len(b) for b in blocks)) + blocks[0].shape[1:])
    valid = torch.zeros(out.shape[:2], dtype=torch.bool, device=out.device)
    for i, b in enumerate(blocks):
        out[i, :len(b)], valid[i, :len(b)] = b, True
    return out, valid


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="results/per_class_omp")
    p.add_argument("--n-samples", type=int, default=60000)
    p.add_argument("--data-dir", help="folder of the Fashion-MNIST IDX files")
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    E, Hb, y, source = factors(dev, args.n_samples, args.data_dir)
    rows = [torch.nonzero(y == c).squeeze(1) for c in range(10)]
    k = [len(r) // 10 for r in rows]
    Ec, Hc = [E[r] for r in rows], [Hb[r] for r in rows]
    dense = [sample_gradients(e, h) for e, h in zip(Ec, Hc)]
    targets = torch.stack([g.sum(0) for g in dense]).double()
    own = [class_gradients(e, h, y[r]) for e, h, r in zip(Ec, Hc, rows)]
    own_targets = torch.stack([g.sum(0) for g in own]).double()
    A, valid = pad(dense)
    Ep, _ = pad(Ec)
    Hp, _ = pad(Hc)
    Ao, valid_o = pad(own)
    ways = {
        "loop, dense": lambda: [omp_batched(a[None], t[None], [kk])[0]
                                for a, t, kk in zip(dense, targets, k)],
        "batched, dense": lambda: omp_batched(A, targets, k, valid=valid),
        "batched, factors": lambda: omp_batched(OuterProductAtoms(Ep, Hp), targets, k,
                                                valid=valid),
        "batched, per gradient": lambda: omp_batched(Ao, own_targets, k, valid=valid_o),
    }
    results, reference = [], None
    for name, solve in ways.items():
        times = []
        for _ in range(args.repeats):
            sync(dev)
            t = time.perf_counter()
            out = solve()
            sync(dev)
            times.append(time.perf_counter() - t)
        picks = [set(r.indices.tolist()) for r in out]
        reference = reference or picks
        shared = np.mean([len(p & q) / max(len(q), 1) for p, q in zip(picks, reference)])
        results.append({"way": name, "seconds": statistics.median(times),
                        "error": float(np.mean([r.error for r in out])), "shared": float(shared)})
        print(f"{name:24s} {results[-1]['seconds']:.3f} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    lines = [f"Per-class GRAD-MATCH, 10 classes, {sum(k)} atoms of {len(y)} examples in all "
             f"({source}); device {dev}, median of {args.repeats}.", "",
             "| way | seconds | mean regularized error | picks shared with the loop |",
             "|---|---|---|---|"]
    lines += [f"| {r['way']} | {r['seconds']:.3f} | {r['error']:.2e} | {r['shared']:.1%} |"
              for r in results]
    with open(os.path.join(args.out, "per_class_omp.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "per_class_omp.json"), "w") as f:
        json.dump({"source": source, "device": str(dev), "results": results}, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
