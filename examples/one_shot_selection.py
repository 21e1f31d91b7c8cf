"""
One-shot GRAD-MATCH from a trained skorch net
=============================================

The weighted subset, chosen once from a trained net, as ``sample_weight`` of
another estimator. A small net is trained briefly on the digits data; its per-example
last-layer gradients (as factors, never the dense matrix) choose 10% of the
training rows per class with non-negative weights, held-out gradients
supplying the target.  ``fit_resample`` (imbalanced-learn's sampler
interface) returns the rows and labels; the weights go to an estimator that
takes ``sample_weight``.

Run: ``python examples/one_shot_selection.py``
"""

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

from sksubset import GradMatchSelector
from sksubset.gradients import last_layer_gradients

torch.manual_seed(0)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_train, y_train, test_size=0.2,
                                                      stratify=y_train, random_state=0)

module = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=5, lr=0.1,
                          batch_size=64, train_split=None, verbose=0)
net.fit(X_train, y_train)

G = last_layer_gradients(net, X_train, y_train)       # factors on the net's device
G_valid = last_layer_gradients(net, X_valid, y_valid)  # the per-class validation target
print(f"gradients of {G.shape[0]} rows x {G.shape[1]} columns, stored as "
      f"{tuple(G.E.shape)} and {tuple(G.Hb.shape)} factors")

sel = GradMatchSelector(budget=0.1)  # one problem per class (per_class=True)
X_sub, y_sub = sel.fit_resample(X_train, y_train, gradients=G, target=G_valid)
print(f"GRAD-MATCH: {len(X_sub)} rows, weights sum {sel.weights_.sum():.0f}, "
      f"relative gradient error {sel.gradient_error_:.3f}")

rng = np.random.default_rng(0)
random_rows = rng.choice(len(X_train), size=len(X_sub), replace=False)
fits = {
    "all training rows": (X_train, y_train, None),
    "GRAD-MATCH subset, weighted": (X_sub, y_sub, sel.weights_),
    "GRAD-MATCH subset, unweighted": (X_sub, y_sub, None),
    "random subset": (X_train[random_rows], y_train[random_rows], None),
}
for name, (Xf, yf, w) in fits.items():
    clf = LogisticRegression(max_iter=500).fit(Xf, yf, sample_weight=w)
    print(f"{name:>31}: {len(Xf):4d} rows, test accuracy {clf.score(X_test, y_test):.3f}")
