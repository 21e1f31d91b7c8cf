"""Models and skorch nets of the experiment runner, with the paper's training settings.

Modules are handed to skorch as *classes* with ``module__`` keyword
arguments, so that skorch builds (and the seeded torch generator initializes)
a fresh module in every fit.  :func:`make_net` sets what the GRAD-MATCH
paper uses: SGD with learning rate 0.01, momentum 0.9, weight decay 5e-4,
no Nesterov, and cosine annealing stepped once per epoch.
"""

import math

import numpy as np
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import LRScheduler
from torch import nn
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR

__all__ = ["MLP", "TabularMLP", "LeNet5", "CNN1D", "ResNet", "ResNet18", "SmallResNet", "MODELS",
           "DEFAULT_MODEL",
           "module_kwargs", "make_net", "LR_EVENT"]

#: history key under which the learning rate of every epoch is recorded
LR_EVENT = "event_lr"


class MLP(nn.Module):
    """Fully connected ReLU net ending in logits; inputs are flattened.

    Parameters
    ----------
    n_features : int
        Input size (after flattening).
    n_classes : int
    hidden : tuple of int, default=(128,)
        Widths of the hidden layers.
    """

    def __init__(self, n_features, n_classes, hidden=(128,)):
        super().__init__()
        layers, width = [], int(n_features)
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, int(n_classes)))
        self.net = nn.Sequential(*layers)

    def forward(self, X):
        return self.net(X.flatten(1))


class TabularMLP(MLP):
    """The :class:`MLP` with two hidden layers of 256 units, for tabular data (``"mlp-256x2"``)."""

    def __init__(self, n_features, n_classes):
        super().__init__(n_features, n_classes, hidden=(256, 256))


class LeNet5(nn.Module):
    """LeNet-5 as in the GRAD-MATCH paper's MNIST experiments, ending in logits.

    conv(C, 6, 5, padding 2) - ReLU - maxpool 2 - conv(6, 16, 5) - ReLU -
    maxpool 2 - fc(16*5*5 = 400, 120) - ReLU - fc(120, 84) - ReLU -
    fc(84, n_classes), for 28x28 images.  Flat inputs of ``C * s * s``
    features are reshaped to ``(C, s, s)``.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=1
    image_size : int, default=28
        Side of the square input images (at least 12).
    """

    def __init__(self, n_classes=10, in_channels=1, image_size=28):
        super().__init__()
        side = (int(image_size) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5 needs images of at least 12x12; got {image_size}.")
        self.in_channels, self.image_size = int(in_channels), int(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, int(n_classes)))

    def forward(self, X):
        if X.dim() == 2:
            X = X.view(len(X), self.in_channels, self.image_size, self.image_size)
        return self.classifier(self.features(X).flatten(1))


class CNN1D(nn.Module):
    """The MNIST-1D paper's small CNN for 1-D signals, ending in logits.

    conv(C, 25, 5, stride 2, padding 1) - ReLU - conv(25, 25, 3, stride 2,
    padding 1) - ReLU - conv(25, 25, 3, stride 2, padding 1) - ReLU -
    flatten - fc(25 * L', n_classes), as in Greydanus (2020): 5 210 parameters
    for signals of length 40 (``L' = 5``).  Flat inputs ``(n, C * length)``
    are reshaped to ``(n, C, length)``.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=1
    length : int, default=40
        Length of the input signals (at least 3).
    channels : int, default=25
        Channels of the three convolutions.
    """

    def __init__(self, n_classes=10, in_channels=1, length=40, channels=25):
        super().__init__()
        out = int(length)
        for kernel in (5, 3, 3):
            out = (out + 2 - kernel) // 2 + 1
        if out < 1:
            raise ValueError(f"CNN1D needs signals of length at least 3; got {length}.")
        self.in_channels, self.length, c = int(in_channels), int(length), int(channels)
        self.features = nn.Sequential(
            nn.Conv1d(self.in_channels, c, 5, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.linear = nn.Linear(c * out, int(n_classes))

    def forward(self, X):
        if X.dim() == 2:
            X = X.view(len(X), self.in_channels, self.length)
        return self.linear(self.features(X))


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """Residual net for small images (3x3 stem, no max-pool), ending in logits.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=3
    blocks : tuple of int, default=(2, 2, 2, 2)
        Basic blocks per stage; every stage after the first halves the
        resolution.
    widths : tuple of int, default=(64, 128, 256, 512)
        Channels per stage (the stem has ``widths[0]``).
    """

    def __init__(self, n_classes=10, in_channels=3, blocks=(2, 2, 2, 2),
                 widths=(64, 128, 256, 512)):
        super().__init__()
        if len(blocks) != len(widths):
            raise ValueError(f"blocks and widths need one entry per stage; got {blocks} and "
                             f"{widths}.")
        layers = [nn.Conv2d(int(in_channels), widths[0], 3, 1, 1, bias=False),
                  nn.BatchNorm2d(widths[0]), nn.ReLU()]
        c = widths[0]
        for stage, (n_blocks, width) in enumerate(zip(blocks, widths)):
            for b in range(int(n_blocks)):
                layers.append(_BasicBlock(c, int(width), 2 if stage > 0 and b == 0 else 1))
                c = int(width)
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.linear = nn.Linear(c, int(n_classes))

    def forward(self, X):
        return self.linear(self.features(X))


class ResNet18(ResNet):
    """ResNet-18 for 32x32 images as in the GRAD-MATCH, CRAIG and CREST code (CIFAR-10):
    blocks (2, 2, 2, 2), widths 64 to 512, 11.2 M parameters."""

    def __init__(self, n_classes=10, in_channels=3):
        super().__init__(n_classes, in_channels)


class SmallResNet(ResNet):
    """A small residual CNN for the CPU: three stages of one block, widths 16, 32, 64
    (78 k parameters)."""

    def __init__(self, n_classes=10, in_channels=1):
        super().__init__(n_classes, in_channels, blocks=(1, 1, 1), widths=(16, 32, 64))


MODELS = {"mlp": MLP, "mlp-256x2": TabularMLP, "lenet5": LeNet5, "cnn1d": CNN1D,
          "resnet18": ResNet18,
          "resnet-small": SmallResNet}

#: model used when ``--model`` is not given
DEFAULT_MODEL = {"digits": "mlp", "fashion-mnist": "lenet5", "cifar10": "resnet18",
                 "mnist1d": "cnn1d", "tabular": "mlp-256x2", "npz": "mlp", "diabetes": "mlp",
                 "friedman": "mlp"}


def module_kwargs(model, X, n_classes):
    """``module__`` keyword arguments of ``model`` for inputs like ``X``.

    Parameters
    ----------
    model : {"mlp", "mlp-256x2", "lenet5", "cnn1d", "resnet18", "resnet-small"}
    X : ndarray of shape (n, ...)
        Training inputs: ``(n, C, s, s)`` images, or flat ``(n, C*s*s)`` rows
        (taken as one channel) for LeNet-5; ``(n, C, length)`` signals, or
        flat ``(n, length)`` rows (one channel) for ``cnn1d``; images for the
        residual nets.
    n_classes : int

    Returns
    -------
    dict
    """
    if model in ("mlp", "mlp-256x2"):
        return {"n_features": int(np.prod(X.shape[1:])), "n_classes": int(n_classes)}
    if model == "lenet5":
        if X.ndim == 4 and X.shape[2] == X.shape[3]:
            channels, side = X.shape[1], X.shape[2]
        elif X.ndim == 3 and X.shape[1] == X.shape[2]:
            raise ValueError("lenet5 needs images of shape (n, C, s, s); got (n, s, s): add "
                             "the channel axis (X[:, None]).")
        elif X.ndim == 2 and math.isqrt(X.shape[1]) ** 2 == X.shape[1]:
            channels, side = 1, math.isqrt(X.shape[1])
        else:
            raise ValueError(f"lenet5 needs square images; got inputs of shape {X.shape[1:]}.")
        return {"n_classes": int(n_classes), "in_channels": int(channels), "image_size": int(side)}
    if model == "cnn1d":
        if X.ndim not in (2, 3):
            raise ValueError(f"cnn1d needs signals of shape (n, C, length) or (n, length); got "
                             f"inputs of shape {X.shape[1:]}.")
        channels = 1 if X.ndim == 2 else X.shape[1]
        return {"n_classes": int(n_classes), "in_channels": int(channels),
                "length": int(X.shape[-1])}
    if model in ("resnet18", "resnet-small"):
        if X.ndim != 4:
            raise ValueError(f"{model} needs images of shape (n, C, H, W); got inputs of "
                             f"shape {X.shape[1:]}.")
        return {"n_classes": int(n_classes), "in_channels": int(X.shape[1])}
    raise ValueError(f"Unknown model {model!r}; choose one of {', '.join(MODELS)}.")


def make_net(model, module_kw, epochs, batch_size, lr=0.01, device="cpu", t_max=None,
             lr_schedule="cosine", regression=False):
    """An unfitted skorch classifier (or regressor) with the paper's optimizer and schedule.

    Parameters
    ----------
    model : {"mlp", "mlp-256x2", "lenet5", "cnn1d", "resnet18", "resnet-small"}
    module_kw : dict
        From :func:`module_kwargs`.
    epochs : int
        ``max_epochs`` (the epoch budget ``T`` of a subset run, or ``E``).
    batch_size : int
    lr : float, default=0.01
    device : str, default="cpu"
    t_max : int, optional
        Period of the cosine annealing (default ``epochs``).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Cosine annealing over ``t_max`` epochs, or a constant learning rate.
    regression : bool, default=False
        A :class:`skorch.NeuralNetRegressor` with ``MSELoss`` instead (the
        module's ``n_classes`` outputs are the targets' columns).

    Returns
    -------
    skorch.NeuralNetClassifier or skorch.NeuralNetRegressor
        SGD (momentum 0.9, weight decay 5e-4, no Nesterov),
        ``CrossEntropyLoss``, ``CosineAnnealingLR(T_max=t_max)`` (or a constant
        rate) stepped per epoch with each epoch's learning rate recorded under
        :data:`LR_EVENT`,
        ``train_split=None``, ``verbose=0``.
    """
    kwargs = {f"module__{k}": v for k, v in module_kw.items()}
    if lr_schedule == "cosine":
        schedule = {"policy": CosineAnnealingLR, "T_max": int(t_max or epochs)}
    elif lr_schedule == "constant":
        schedule = {"policy": ConstantLR, "factor": 1.0, "total_iters": 0}
    else:
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant'; got {lr_schedule!r}.")
    cls, criterion = ((NeuralNetRegressor, nn.MSELoss) if regression
                      else (NeuralNetClassifier, nn.CrossEntropyLoss))
    return cls(
        MODELS[model], criterion=criterion, optimizer=torch.optim.SGD, lr=lr,
        optimizer__momentum=0.9, optimizer__weight_decay=5e-4, optimizer__nesterov=False,
        max_epochs=int(epochs), batch_size=int(batch_size), train_split=None, verbose=0,
        device=device, iterator_train__shuffle=True,
        callbacks=[("lr_scheduler", LRScheduler(**schedule, event_name=LR_EVENT))],
        **kwargs)
