"""Peak memory and time of one selection round: Fashion-MNIST as arrays or as a Dataset.

Two ways of giving the 60 000 Fashion-MNIST training images to
``SubsetTrainingClassifier.fit``:

* ``arrays``: the float32 array of :func:`sksubset.experiments.load_fashion_mnist`
  (188 MB of pixels), as every array-based estimator takes them;
* ``memmap``: a :class:`torch.utils.data.Dataset` reading rows of a
  ``numpy.memmap`` of the uint8 images (written once to ``--work-dir``) and
  scaling them at each read; nothing of the images is loaded up front.

Each measurement runs in a fresh process: load (or open) the data, reset the
kernel's peak-RSS counter (``/proc/self/clear_refs``), then one ``fit`` with
``T=1`` and ``kappa=0``: one selection round (GRAD-MATCH, per class, 10%)
over all 60 000 examples, then one epoch on the 6 000 selected (``--per-batch``:
GRAD-MATCH-PB, whose solver needs little memory of its own).  Reported:
``VmHWM`` (peak resident set) during the fit and over the whole process, the
selection round's seconds (forward pass and solver) and the fit's.  LeNet-5,
batch 20 for training; the selection pass reads batches of
``--select-batch`` examples (``iterator_valid__batch_size``; the arrays are
read in chunks of 512).

Run::

    python examples/benchmarks/dataset_memory.py [--repeats 3] [--threads 1] [--per-batch]
        [--out DIR]

Writes ``dataset_memory.json`` and ``.md`` under ``--out`` (default ``$OUT`` or
``results/dataset_memory``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import Dataset


def _vm(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # MiB
    return float("nan")


class MemmapImages(Dataset):
    """``(image / 255 as float32 (1, 28, 28), label)`` items of a uint8 memmap."""

    def __init__(self, path, labels):
        self.images = np.load(path, mmap_mode="r")
        self.targets = labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i].astype(np.float32) / 255.0)[None], self.targets[i]


def _write_memmap(work_dir):
    from sksubset.experiments.datasets import FASHION_MNIST_DIR, read_idx

    path = os.path.join(work_dir, "fmnist_train_images_u8.npy")
    labels = read_idx(os.path.join(FASHION_MNIST_DIR, "train-labels-idx1-ubyte.gz"))
    if not os.path.exists(path):
        images = read_idx(os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz"))
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=images.shape)
        out[:] = images
        out.flush()
        del out
    return path, labels.astype(np.int64)


def measure(mode, threads, select_batch, work_dir, per_batch=False):
    """One measurement in this process (see the module docstring)."""
    torch.set_num_threads(threads)
    from sksubset import SubsetTrainingClassifier
    from sksubset.experiments.datasets import load_fashion_mnist
    from sksubset.experiments.models import make_net, module_kwargs

    if mode == "arrays":
        X, y, _, _ = load_fashion_mnist()
        fit_args = (X, y)
    else:
        path, y = _write_memmap(work_dir)
        fit_args = (MemmapImages(path, y), None)
    kw = module_kwargs("lenet5", np.zeros((1, 1, 28, 28), np.float32), 10)
    net = make_net("lenet5", kw, epochs=1, batch_size=20)
    net.set_params(iterator_valid__batch_size=select_batch)
    clf = SubsetTrainingClassifier(net, budget=0.1, kappa=0.0, per_batch=per_batch,
                                   random_state=0, verbose=0)
    before = _vm("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    t0 = time.perf_counter()
    clf.fit(*fit_args)
    fit_seconds = time.perf_counter() - t0
    (rec,) = clf.selection_history_
    return {"mode": mode, "rss_before_fit_mib": before, "peak_rss_fit_mib": _vm("VmHWM"),
            "fit_seconds": fit_seconds, "selection_seconds": rec["seconds"],
            "gradient_seconds": rec["gradient_seconds"], "solver_seconds": rec["solver_seconds"],
            "subset_training_seconds": clf.timing_["subset_training"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--select-batch", type=int, default=512)
    p.add_argument("--per-batch", action="store_true",
                   help="GRAD-MATCH-PB (a solver needing little memory) instead of per class")
    p.add_argument("--work-dir", default=None, help="folder of the memmap (default: a temp dir)")
    p.add_argument("--out", default=None)
    p.add_argument("--one", choices=("arrays", "memmap"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    work_dir = args.work_dir or os.path.join(tempfile.gettempdir(), "sksubset_memmap")
    os.makedirs(work_dir, exist_ok=True)
    if args.one:
        print(json.dumps(measure(args.one, args.threads, args.select_batch, work_dir,
                                 args.per_batch)))
        return
    _write_memmap(work_dir)
    results = []
    for _ in range(args.repeats):
        for mode in ("arrays", "memmap"):
            cmd = [sys.executable, __file__, "--one", mode, "--threads", str(args.threads),
                   "--select-batch", str(args.select_batch), "--work-dir", work_dir]
            cmd += ["--per-batch"] if args.per_batch else []
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(results[-1], file=sys.stderr, flush=True)
    out_dir = args.out or os.environ.get("OUT") or os.path.join("results", "dataset_memory")
    os.makedirs(out_dir, exist_ok=True)
    keys = ("rss_before_fit_mib", "peak_rss_fit_mib", "selection_seconds", "gradient_seconds",
            "solver_seconds", "fit_seconds")
    lines = ["| input | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for mode in ("arrays", "memmap"):
        rows = [r for r in results if r["mode"] == mode]
        med = {k: float(np.median([r[k] for r in rows])) for k in keys}
        lines.append(f"| {mode} | " + " | ".join(f"{med[k]:.1f}" for k in keys) + " |")
    with open(os.path.join(out_dir, "dataset_memory.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out_dir, "dataset_memory.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
