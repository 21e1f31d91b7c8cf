"""Datasets of the experiment runner: all read from local files, nothing is downloaded."""

import gzip
import os

import numpy as np

__all__ = ["load_dataset", "load_digits_split", "load_fashion_mnist", "load_npz",
           "FASHION_MNIST_DIR"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_FMNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def _read_idx(path):
    """Read one (optionally gzipped) IDX file into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
             0x0E: ">f8"}[data[2]]
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(data_dir=None):
    """Fashion-MNIST from the four IDX ``.gz`` files in ``data_dir``.

    Returns ``X_train, y_train, X_test, y_test`` with images as float32 in
    ``[0, 1]`` of shape ``(n, 1, 28, 28)`` and int64 labels.  The default
    directory is where Debian's ``dataset-fashion-mnist`` package puts them.
    """
    data_dir = data_dir or FASHION_MNIST_DIR
    paths = {k: os.path.join(data_dir, v) for k, v in _FMNIST_FILES.items()}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found: {', '.join(missing)}. Install them with "
            "'apt-get install dataset-fashion-mnist' (they go to "
            f"{FASHION_MNIST_DIR}) or pass --data-dir pointing to a folder with "
            f"{', '.join(_FMNIST_FILES.values())}.")
    arrays = {k: _read_idx(p) for k, p in paths.items()}
    X_train = (arrays["X_train"].astype(np.float32) / 255.0)[:, None]
    X_test = (arrays["X_test"].astype(np.float32) / 255.0)[:, None]
    return X_train, arrays["y_train"].astype(np.int64), X_test, arrays["y_test"].astype(np.int64)
