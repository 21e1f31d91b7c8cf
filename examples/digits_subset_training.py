"""Train a skorch MLP on 10% GRAD-MATCH subsets of sklearn's digits.

Shows the warm start, the selection rounds and where the time went.

Run: ``python examples/digits_subset_training.py``
"""

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from sksubset import SubsetTrainingClassifier


class MLP(nn.Module):
    def __init__(self, n_in=64, n_hidden=128, n_out=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

    def forward(self, X):
        return self.body(X)


X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
net = NeuralNetClassifier(
    MLP, criterion=nn.CrossEntropyLoss, max_epochs=60, lr=0.05, batch_size=32,
    optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=5e-4,
    callbacks=[LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=60)],
    train_split=None, verbose=0)

clf = SubsetTrainingClassifier(net, budget=0.1, R=10, kappa=0.5, random_state=0, verbose=0)
clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")
print(f"schedule: {clf.schedule_}")
for record in clf.selection_history_:
    print(f"  epoch {record['epoch']:3d}: {len(record['indices'])} examples, "
          f"gradient error {record['gradient_error']:.3f}, {record['seconds'] * 1000:.0f} ms")
print("seconds:", {k: round(v, 2) for k, v in clf.timing_.items()})
