"""
Tuning on subsets, then training the choice on all the data
===========================================================

A hyper-parameter search trains every candidate, so most of its cost is spent on configurations
that are thrown away, and a candidate only needs to be trained well enough to be ranked.
Here ``GridSearchCV`` tunes a net's learning rate and weight decay with every candidate trained
on 20% subsets (:class:`~sksubset.SubsetTrainingClassifier`), and
:func:`~sksubset.full_data_estimator` turns the chosen configuration into an estimator that
trains on all the data. The same grid searched with every candidate trained on all the data is
the reference: how much cheaper is the subset search, does it rank the configurations alike
(Kendall's tau), and does its choice, trained on all the data, score as well on the test set?

Run: ``python examples/grid_search_on_subsets.py``
"""

import time

import numpy as np
import torch
from matplotlib import pyplot as plt
from scipy.stats import kendalltau
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit, train_test_split
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier, full_data_estimator

torch.set_num_threads(1)  # a small net trains fastest on one thread
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    (X / 16).astype(np.float32), y, test_size=0.3, stratify=y, random_state=0)


class MLP(nn.Module):
    def __init__(self, n_hidden=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 10))

    def forward(self, X):
        return self.body(X)


net = NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.SGD,
                          optimizer__momentum=0.9, max_epochs=20, batch_size=16,
                          train_split=None, verbose=0)
clf = SubsetTrainingClassifier(net, budget=0.2, random_state=0, verbose=0)
grid = {"net__lr": [0.001, 0.003, 0.01, 0.03], "net__optimizer__weight_decay": [0.0, 0.01, 0.1]}
validation = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0)

# %%
# The two searches
# ----------------
# The subset search runs with ``refit=False``: its own refit would train the chosen
# configuration on subsets once more. The reference trains every candidate on all the rows:
# ``full_data_estimator(clf)`` is ``clf`` with ``budget=1.0`` and ``kappa=1.0``.

searches = {"on 20% subsets": GridSearchCV(clf, grid, cv=validation, refit=False),
            "on all the data": GridSearchCV(full_data_estimator(clf), grid, cv=validation,
                                            refit=False)}
seconds = {}
for name, search in searches.items():
    t0 = time.process_time()
    search.fit(X_train, y_train)
    seconds[name] = time.process_time() - t0

subset, full = searches["on 20% subsets"], searches["on all the data"]
tau = kendalltau(subset.cv_results_["mean_test_score"], full.cv_results_["mean_test_score"])
print(f"search CPU time: {seconds['on 20% subsets']:.1f} s on subsets, "
      f"{seconds['on all the data']:.1f} s on all the data "
      f"({seconds['on all the data'] / seconds['on 20% subsets']:.1f}x)")
print(f"Kendall's tau between the two rankings: {tau.statistic:.2f}")

# %%
# On digits a fit takes a fraction of a second, so the fixed costs of each fit (its setup, the
# selection rounds, scoring the validation rows) weigh more than they do where training
# dominates; the user guide's section "Tuning on subsets" measures searches on larger data.

# %%
# The choices, trained on all the data
# ------------------------------------
# ``full_data_estimator(search)`` clones the search's estimator with its ``best_params_`` and
# makes it train on every row for all of ``net.max_epochs``; ``fit`` it as any estimator.

for name, search in searches.items():
    model = full_data_estimator(search).fit(X_train, y_train)
    print(f"chosen {name}: {search.best_params_} -> test accuracy "
          f"{model.score(X_test, y_test):.3f}")

# %%
# Each configuration's validation accuracy in both searches: a search on subsets needs only to
# put the configurations in the same order, not to reach the same accuracy. A run on subsets
# takes fewer optimizer steps than one on all the data, so a search on subsets tends to favour
# larger learning rates; where the learning rate matters, check the choice against a few
# candidates trained on all the data (``full_data_estimator(search, params=...)``).

fig, ax = plt.subplots(figsize=(5.5, 4.5))
labels = [f"lr={p['net__lr']:g}, wd={p['net__optimizer__weight_decay']:g}"
          for p in full.cv_results_["params"]]
ax.scatter(full.cv_results_["mean_test_score"], subset.cv_results_["mean_test_score"])
for label, a, b in zip(labels, full.cv_results_["mean_test_score"],
                       subset.cv_results_["mean_test_score"]):
    ax.annotate(label, (a, b), fontsize=6, xytext=(3, 2), textcoords="offset points")
ax.set_xlabel("validation accuracy, trained on all the data")
ax.set_ylabel("validation accuracy, trained on 20% subsets")
ax.set_title(f"Digits: one grid searched two ways (Kendall's tau {tau.statistic:.2f})")
fig.tight_layout()
plt.show()
