"""
GRAD-MATCH on any gradient matrix
=================================

:class:`~sksubset.GradMatchSelector` needs no neural net: given one gradient
per row, it picks a few rows and non-negative weights whose weighted sum
matches the sum of all rows, far better than a random subset of the same
size.

Run: ``python examples/standalone_selector.py``
"""

import matplotlib.pyplot as plt
import numpy as np

from sksubset import GradMatchSelector

rng = np.random.default_rng(0)
# "gradient-like" rows: a few shared directions plus noise, varied norms
G = (rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 64)) + 0.3 * rng.normal(size=(2000, 64)))
G *= rng.uniform(0.2, 2.0, size=(2000, 1))
y = rng.integers(0, 4, size=2000)

for name, params in [("one problem for all rows", dict(per_class=False)),
                     ("one problem per class (the default)", dict())]:
    sel = GradMatchSelector(budget=0.05, **params).fit(G, y)
    print(f"GRAD-MATCH, {name}: {len(sel.indices_)} rows, "
          f"relative gradient error {sel.gradient_error_:.4f}")
print("selected rows:", sel.transform(G).shape)


def random_error(k):
    """Relative error of the sum of k random rows scaled by n / k (median of 20 draws)."""
    errors = []
    for _ in range(20):
        rows = rng.choice(len(G), size=k, replace=False)
        errors.append(np.linalg.norm(G[rows].sum(0) * len(G) / k - G.sum(0)))
    return np.median(errors) / np.linalg.norm(G.sum(0))


# %%
# The relative gradient error ``||sum_S w_i g_i - sum_j g_j|| / ||sum_j g_j||``
# as the subset grows (without ``y``, all rows form one problem). A random
# subset gets the weights ``n / k`` each, as :class:`~sksubset.RandomSelector`
# gives them: every selected row stands for ``n / k`` rows.
budgets = [0.005, 0.01, 0.02, 0.05, 0.1]
ours = [GradMatchSelector(budget=b).fit(G).gradient_error_ for b in budgets]
rand = [random_error(int(b * len(G))) for b in budgets]
for b, e_ours, e_rand in zip(budgets, ours, rand):
    print(f"budget {b:5.3f}: GRAD-MATCH {e_ours:.4f}, random {e_rand:.4f}")

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot([100 * b for b in budgets], ours, "o-", label="GRAD-MATCH (OMP weights)")
ax.plot([100 * b for b in budgets], rand, "s-", label="random rows (weights n / k)")
ax.set(xscale="log", yscale="log", xlabel="subset size (% of 2000 rows)",
       ylabel="relative gradient error", title="2000 x 64 synthetic gradients")
ax.set_xticks([100 * b for b in budgets], [f"{100 * b:g}" for b in budgets])
ax.legend()
plt.show()
