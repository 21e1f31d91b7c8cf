"""Per-epoch image augmentation of the experiment runner, in plain torch.

:class:`AugmentedImages` is a :class:`torch.utils.data.Dataset` over an
image array that draws a new random crop (and flip) each time an example is
read, so that :class:`~sksubset.SubsetTrainingClassifier` and skorch train on
fresh augmentations every epoch.  The random numbers come from torch's
generator (seeded by ``fit``; in ``DataLoader`` workers, by the worker seed).

* CIFAR-10 (the GRAD-MATCH, CRAIG and CREST code): random 32 x 32 crop of
  the image padded by 4 pixels of black, and a horizontal flip with
  probability 1/2 (:data:`CIFAR10_AUGMENTATION`).
* Fashion-MNIST: random 28 x 28 crop of the image padded by 4 pixels of
  background, no flip (clothes and shoes have a handedness)
  (:data:`FASHION_MNIST_AUGMENTATION`).
"""

import numpy as np
import torch
from torch.utils.data import Dataset

from .._utils.validation import from_numpy
from .datasets import CIFAR10_MEAN, CIFAR10_STD

__all__ = ["AugmentedImages", "random_crop", "CIFAR10_AUGMENTATION",
           "FASHION_MNIST_AUGMENTATION", "augmentation_for"]

#: crop padding and flip of CIFAR-10
CIFAR10_AUGMENTATION = {"padding": 4, "flip": True}
#: crop padding and flip of Fashion-MNIST
FASHION_MNIST_AUGMENTATION = {"padding": 4, "flip": False}


def random_crop(image, padding, fill):
    """A random crop of ``image`` (C, H, W) of its own size, from it padded by ``padding``.

    Parameters
    ----------
    image : torch.Tensor of shape (C, H, W)
    padding : int
    fill : torch.Tensor of shape (C,)
        Value of the padding, per channel.

    Returns
    -------
    torch.Tensor of shape (C, H, W)
    """
    C, H, W = image.shape
    dy, dx = (int(v) for v in torch.randint(0, 2 * padding + 1, (2,)))
    out = fill.view(C, 1, 1).expand(C, H, W).clone()
    # the crop window [dy - p, dy - p + H) x [dx - p, dx - p + W) in image coordinates
    y0, x0 = dy - padding, dx - padding
    ys, xs = slice(max(y0, 0), min(y0 + H, H)), slice(max(x0, 0), min(x0 + W, W))
    out[:, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = image[:, ys, xs]
    return out


class AugmentedImages(Dataset):
    """``(augmented image, label)`` items of image arrays.

    Parameters
    ----------
    X : ndarray of shape (n, C, H, W)
        Images as the net takes them (e.g. normalized float32).
    y : ndarray of shape (n,)
        Integer labels (exposed as ``targets``, so that they are read without
        a pass over the images).
    padding : int, default=4
        Random crop from the image padded by this many pixels (0: no crop).
    flip : bool, default=False
        Flip horizontally with probability 1/2.
    fill : sequence of float, optional
        Padding value per channel (default 0): the value of black after the
        images' normalization.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    >>> ds = AugmentedImages(X, np.array([0, 1]), padding=1)
    >>> _ = torch.manual_seed(0)
    >>> x, y = ds[1]
    >>> tuple(x.shape), int(y)
    ((1, 4, 4), 1)
    """

    def __init__(self, X, y, padding=4, flip=False, fill=None):
        if X.ndim != 4:
            raise ValueError(f"AugmentedImages needs images of shape (n, C, H, W); got "
                             f"{X.shape}.")
        self.X, self.targets = X, np.asarray(y, dtype=np.int64)
        self.padding, self.flip = int(padding), bool(flip)
        channels = X.shape[1]
        self.fill = torch.as_tensor(np.zeros(channels) if fill is None else fill,
                                    dtype=torch.float32)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        x = from_numpy(np.asarray(self.X[i], dtype=np.float32))
        if self.padding:
            x = random_crop(x, self.padding, self.fill.to(x.dtype))
        if self.flip and bool(torch.rand(()) < 0.5):
            x = x.flip(-1)
        return x, self.targets[i]


def augmentation_for(dataset):
    """The runner's augmentation settings of ``dataset``: ``padding``, ``flip``, ``fill``."""
    if dataset == "cifar10":  # black, in the normalized scale of the loaded images
        black = [-m / s for m, s in zip(CIFAR10_MEAN, CIFAR10_STD)]
        return dict(CIFAR10_AUGMENTATION, fill=black)
    if dataset == "fashion-mnist":
        return dict(FASHION_MNIST_AUGMENTATION)
    raise ValueError(f"--augment is defined for cifar10 and fashion-mnist; got {dataset!r}.")
