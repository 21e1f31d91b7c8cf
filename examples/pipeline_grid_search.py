"""
A Pipeline tuned with GridSearchCV
==================================

:class:`~sksubset.SubsetTrainingClassifier` is a scikit-learn meta-estimator:
it fits in a ``Pipeline``, and its own parameters, the net's (``net__lr``) and
those of its selector instance (``selector__lam``) can be searched. The grid
covers the reselection interval ``R`` and the ridge ``lam`` of GRAD-MATCH's
non-negative OMP, and sets the net's learning rate through ``clf__net__lr``.
The selector's ``budget`` and ``random_state`` stay at their defaults: the
classifier's set them for every selection round.

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

from sksubset import GradMatchSelector, SubsetTrainingClassifier


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
    ("clf", SubsetTrainingClassifier(
        net, selector=GradMatchSelector(criterion="correlation", per_step=16),
        budget=0.2, kappa=0, random_state=0, verbose=0)),
])
grid = GridSearchCV(pipe, {"clf__R": [5, 10], "clf__selector__lam": [0.05, 0.2],
                           "clf__net__lr": [0.05]}, cv=2)
grid.fit(X.astype(np.float32), y)
print("best parameters:", grid.best_params_)
print(f"best cross-validated accuracy: {grid.best_score_:.3f}")
