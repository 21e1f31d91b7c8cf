"""
A Pipeline tuned with GridSearchCV
==================================

:class:`~sksubset.SubsetTrainingClassifier` is a scikit-learn estimator: it
fits in a ``Pipeline``, and its parameters and the net's (``net__lr``) can be
searched. The grid covers the reselection interval ``R`` and the warm-start
fraction ``kappa``, and sets the net's learning rate through
``clf__net__lr``. Inside the search the classifier shows no progress bars.

Run: ``python examples/pipeline_grid_search.py``
"""

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from sksubset import SubsetTrainingClassifier


class MLP(nn.Module):
    def __init__(self, n_in=64, n_hidden=64, n_out=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, X):
        return self.body(X)


X, y = load_digits(return_X_y=True)
net = NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, max_epochs=10, batch_size=32,
                          optimizer=torch.optim.SGD, optimizer__momentum=0.9,
                          train_split=None, verbose=0)
pipe = Pipeline([
    ("scale", StandardScaler()),
    ("clf", SubsetTrainingClassifier(net, budget=0.2, random_state=0)),
])
grid = GridSearchCV(pipe, {"clf__R": [5, 10], "clf__kappa": [0, 0.5], "clf__net__lr": [0.1]},
                    cv=2)
grid.fit(X.astype(np.float32), y)
print("best parameters:", grid.best_params_)
print(f"best cross-validated accuracy: {grid.best_score_:.3f}")
