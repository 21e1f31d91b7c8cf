"""Peak memory of a standalone selection, against the size of its input.

Fits a selector (``GradMatchSelector`` by default) on a random float32 numpy
matrix and reports the resident memory the fit adds on top of the process
that holds the input (Linux ``VmHWM`` minus ``VmRSS`` before the fit), in MiB
and as a multiple of the input's size.  Each measurement runs in a fresh
Python process, so that one fit's peak does not hide the next one's.

Run::

    python examples/benchmarks/selector_memory.py [--n 200000] [--d 256] [--budget 0.1]
        [--selector gradmatch] [--repeats 3] [--threads 1]

Prints one line per repeat and the median as JSON.
"""

import argparse
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import json, sys, time
import numpy as np, torch
from sksubset.selectors import get_selector

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(key)

n, d, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[5])
budget, name = float(sys.argv[3]), sys.argv[4]
torch.set_num_threads(threads)
G = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
sel = get_selector(name)(budget=budget if budget < 1 else int(budget))
get_selector(name)(budget=2).fit(G[:64])  # load the code paths once
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM to the current resident size
before = status("VmRSS")
t = time.perf_counter()
sel.fit(G)
seconds = time.perf_counter() - t
peak = status("VmHWM")
print(json.dumps({"input_mib": G.nbytes / 2**20, "rss_before_mib": before / 2**20,
                  "peak_mib": peak / 2**20, "added_mib": (peak - before) / 2**20,
                  "added_over_input": (peak - before) / G.nbytes,
                  "n_selected": int(len(sel.indices_)), "seconds": seconds}))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--budget", type=float, default=0.1,
                   help="fraction in (0, 1), or a count >= 1")
    p.add_argument("--selector", default="gradmatch")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(args.n), str(args.d),
                              str(args.budget), args.selector, str(args.threads)],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), flush=True)
    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    summary.update(n=args.n, d=args.d, budget=args.budget, selector=args.selector,
                   repeats=args.repeats, threads=args.threads)
    print(json.dumps({"median": summary}, indent=1))


if __name__ == "__main__":
    main()
