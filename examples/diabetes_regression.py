"""
Subset training of a regressor
==============================

:class:`~sksubset.SubsetTrainingRegressor` is the classifier's twin around a
skorch ``NeuralNetRegressor``: the same parameters, the same training run,
with the squared loss, whose last-layer gradient ``2 (yhat - y) [1, h]`` has a
closed form. On scikit-learn's diabetes data (442 patients, 10 features), a
small MLP trains on 30% subsets chosen by GRAD-MATCH, CRAIG and at random (the
regressor's default, which beat GRAD-MATCH on the larger regression set
measured: :doc:`/benchmarks`, "Regression: Friedman #1"), reselected every 5 epochs after
a warm start, and each is scored on held-out patients (R², RMSE in units of the
target's standard deviation) next to the same net trained on all the data.

Run: ``python examples/diabetes_regression.py``
"""

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetRegressor
from torch import nn

from sksubset import SubsetTrainingRegressor


class MLP(nn.Module):
    def __init__(self, n_in=10, n_hidden=32):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1))

    def forward(self, X):
        return self.body(X)


X, y = load_diabetes(return_X_y=True)
X = X.astype(np.float32)
y = ((y - y.mean()) / y.std()).astype(np.float32)  # targets on the unit scale
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)


def make_net():
    return NeuralNetRegressor(MLP, max_epochs=30, lr=0.01, batch_size=32,
                              optimizer=torch.optim.SGD, optimizer__momentum=0.9,
                              optimizer__weight_decay=1e-3, train_split=None, verbose=0)


def report(name, y_pred):
    rmse = mean_squared_error(y_test, y_pred) ** 0.5
    print(f"{name:<12} R2 {r2_score(y_test, y_pred):.3f}  RMSE {rmse:.3f}")


torch.manual_seed(0)
full = make_pipeline(StandardScaler(), make_net()).fit(X_train, y_train[:, None])
report("all data", full.predict(X_test).ravel())

fitted = {}
for selector in ["gradmatch", "craig", None]:
    reg = make_pipeline(StandardScaler(), SubsetTrainingRegressor(
        make_net(), selector=selector, budget=0.3, R=5, random_state=0, verbose=0))
    fitted[selector or "random"] = reg.fit(X_train, y_train)
    report(selector or "random", reg.predict(X_test))

# %%
# The selection rounds are recorded as for the classifier: here GRAD-MATCH's
# relative error of the weighted subset's last-layer gradient sum, per round,
# and how unequal its weights are (the largest weight over the mean).
for record in fitted["gradmatch"][-1].selection_history_:
    w = record["weights"]
    print(f"epoch {record['epoch']:>2}: gradient error {record['gradient_error']:.4f}, "
          f"largest weight / mean {w.max() / w.mean():.1f}")
