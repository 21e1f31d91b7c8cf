"""GRAD-MATCH on any gradient matrix, without a neural net.

A subset of 5% of the rows, with non-negative weights, whose weighted sum
matches the sum of all rows far better than a random subset of the same size.

Run: ``python examples/standalone_selector.py``
"""

import numpy as np

from sksubset import GradMatchSelector

rng = np.random.default_rng(0)
# "gradient-like" rows: a few shared directions plus noise, varied norms
G = (rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 64)) + 0.3 * rng.normal(size=(2000, 64)))
G *= rng.uniform(0.2, 2.0, size=(2000, 1))
y = rng.integers(0, 4, size=2000)

for params in [dict(), dict(per_class=True)]:
    sel = GradMatchSelector(budget=0.05, **params).fit(G, y)
    print(f"GRAD-MATCH {params or ''}: {len(sel.indices_)} rows, "
          f"relative gradient error {sel.gradient_error_:.4f}")

k = len(sel.indices_)
random_rows = rng.choice(len(G), size=k, replace=False)
err = np.linalg.norm(G[random_rows].sum(0) * len(G) / k - G.sum(0)) / np.linalg.norm(G.sum(0))
print(f"random subset of {k} rows (weights n/k): relative gradient error {err:.4f}")
print("selected rows:", sel.transform(G).shape)
