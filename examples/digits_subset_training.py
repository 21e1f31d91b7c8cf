"""
Subset training of a skorch net on digits
=========================================

Train a small MLP on 10% GRAD-MATCH subsets of scikit-learn's digits: a
full-data warm start, then subsets re-selected every ``R`` epochs. The
classifier records each selection round and where the time went, and the
net's history holds the phase of every epoch.

Run: ``python examples/digits_subset_training.py``
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
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

# %%
# The net is an ordinary skorch net; the classifier clones it and runs the
# schedule: ``max_epochs=60`` is the epoch budget ``T``.
net = NeuralNetClassifier(
    MLP, criterion=nn.CrossEntropyLoss, max_epochs=60, lr=0.05, batch_size=32,
    optimizer=torch.optim.SGD, optimizer__momentum=0.9, optimizer__weight_decay=5e-4,
    callbacks=[LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=60)],
    train_split=None, verbose=0)

clf = SubsetTrainingClassifier(net, budget=0.1, R=10, kappa=0.5, random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")
print(f"schedule: {clf.schedule_}")
for record in clf.selection_history_:
    print(f"  epoch {record['epoch']:3d}: {len(record['indices'])} examples, "
          f"gradient error {record['gradient_error']:.3f}, {record['seconds'] * 1000:.0f} ms")
print("seconds:", {k: round(v, 2) for k, v in clf.timing_.items()})

# %%
# The training loss of every trained epoch, coloured by phase, with the
# selection rounds marked. Subset epochs report the weighted loss of the
# subset they train on.
history = clf.net_.history
loss, phase = np.array(history[:, "train_loss"]), np.array(history[:, "phase"])
epochs = np.arange(len(loss))
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for name, color in (("warm", "tab:blue"), ("subset", "tab:orange")):
    ax.plot(epochs[phase == name], loss[phase == name], "o", ms=3, color=color,
            label=f"{name} epochs")
for i, record in enumerate(clf.selection_history_):
    ax.axvline(record["epoch"], color="0.6", lw=0.8, ls="--",
               label="selection" if i == 0 else None)
ax.set(xlabel="trained epoch", ylabel="training loss",
       title="digits, 64-128-10 MLP, T = 60, budget 0.1")
ax.legend()
plt.show()
