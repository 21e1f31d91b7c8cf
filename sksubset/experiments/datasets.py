"""Datasets of the experiment runner: read from local files or generated, nothing is downloaded.

:func:`load_data` gives the arrays of an experiment's settings (a sample of
them with ``train_size`` / ``test_size``, labels encoded as 0..C-1).
"""

import gzip
import os
import pickle
import random

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

from .regression import REGRESSION_DATASETS, is_regression, load_diabetes_split, load_friedman

__all__ = ["load_data", "load_dataset", "load_digits_split", "load_fashion_mnist",
           "load_cifar10", "load_npz", "read_idx", "FASHION_MNIST_DIR", "CIFAR10_FILES",
           "CIFAR10_MEAN", "CIFAR10_STD", "load_mnist1d", "MNIST1D_SIZES", "MNIST1D_SEED",
           "DATASETS"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_FMNIST_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path):
    """Read one (optionally gzipped, by its ``.gz`` name) IDX file into a numpy array.

    Parameters
    ----------
    path : str

    Returns
    -------
    ndarray
        Of the file's dtype and shape.

    Raises
    ------
    ValueError
        When the file is not IDX or is truncated.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type code 0x{data[2]:02x}")
    dtype = np.dtype(dtypes[data[2]])
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: the header announces shape {shape} but the file holds "
                         f"{len(data) - offset} bytes of data")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape).copy()


def load_fashion_mnist(data_dir=None):
    """Fashion-MNIST from the four IDX ``.gz`` files in ``data_dir``.

    Returns ``X_train, y_train, X_test, y_test`` with images as float32 in
    ``[0, 1]`` of shape ``(n, 1, 28, 28)`` and int64 labels.  The default
    directory is where Debian's ``dataset-fashion-mnist`` package puts them.

    Parameters
    ----------
    data_dir : str, optional
        Folder holding ``train-images-idx3-ubyte.gz`` and the three other files.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray

    Raises
    ------
    FileNotFoundError
        Naming the missing files and ``apt-get install dataset-fashion-mnist``.
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
    arrays = {k: read_idx(p) for k, p in paths.items()}
    X_train = (arrays["X_train"].astype(np.float32) / 255.0)[:, None]
    X_test = (arrays["X_test"].astype(np.float32) / 255.0)[:, None]
    return X_train, arrays["y_train"].astype(np.int64), X_test, arrays["y_test"].astype(np.int64)


#: the files of the python version of CIFAR-10 (``cifar-10-batches-py``)
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
#: per-channel mean and standard deviation of the normalization (the papers' code)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


def _read_cifar_batch(path):
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a CIFAR-10 batch (a pickled dict with b'data' and "
                         "b'labels')") from exc
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path}: expected {len(labels)} rows of 3072 bytes; got data of "
                         f"shape {data.shape}")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def load_cifar10(data_dir):
    """CIFAR-10 from the pickled batches of its python version (nothing is downloaded).

    Parameters
    ----------
    data_dir : str
        The ``cifar-10-batches-py`` folder holding ``data_batch_1`` ..
        ``data_batch_5`` and ``test_batch``, or a folder containing it.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Images as float32 of shape ``(n, 3, 32, 32)``, scaled to ``[0, 1]`` and
        normalized per channel by :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD`
        (as the papers' code does); int64 labels.

    Raises
    ------
    FileNotFoundError
        Naming the missing files.
    """
    if not data_dir:
        raise FileNotFoundError("--dataset cifar10 needs --data-dir: the cifar-10-batches-py "
                                f"folder with {', '.join(CIFAR10_FILES)}.")
    nested = os.path.join(data_dir, "cifar-10-batches-py")
    if not os.path.exists(os.path.join(data_dir, CIFAR10_FILES[0])) and os.path.isdir(nested):
        data_dir = nested
    missing = [f for f in CIFAR10_FILES if not os.path.isfile(os.path.join(data_dir, f))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 files not found in {data_dir}: {', '.join(missing)}. --data-dir must be "
            f"the cifar-10-batches-py folder of the python version of CIFAR-10 (files "
            f"{', '.join(CIFAR10_FILES)}); it is not downloaded.")
    parts = [_read_cifar_batch(os.path.join(data_dir, f)) for f in CIFAR10_FILES]
    mean = np.asarray(CIFAR10_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(CIFAR10_STD, dtype=np.float32).reshape(1, 3, 1, 1)

    def normalize(images):
        return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)

    X_train = normalize(np.concatenate([p[0] for p in parts[:5]]))
    y_train = np.concatenate([p[1] for p in parts[:5]])
    return X_train, y_train, normalize(parts[5][0]), parts[5][1]


def load_digits_split(test_size=0.3, random_state=0):
    """scikit-learn's bundled 8x8 digits, split into train and test sets.

    Parameters
    ----------
    test_size : float, default=0.3
        Fraction of the 1797 images held out for testing (stratified).
    random_state : int, default=0
        Seed of the split; every run of an experiment uses the same split,
        so that runs differ only by their training randomness.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Pixels scaled to ``[0, 1]`` as float32 of shape ``(n, 64)``, int64 labels.
    """

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y.astype(np.int64), test_size=test_size, stratify=y, random_state=random_state)
    return X_train, y_train, X_test, y_test


_NPZ_KEYS = ("X_train", "y_train", "X_test", "y_test")


def load_npz(path):
    """A user's data set from one ``.npz`` file.

    Parameters
    ----------
    path : str
        File with the arrays ``X_train``, ``y_train``, ``X_test`` and ``y_test``.
        Inputs are used as given (converted to float32: scale them
        beforehand); labels may be of any type.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    KeyError
        When arrays are missing (all missing names are listed).
    """
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"--dataset npz needs --data-dir pointing to an .npz file with "
                                f"{', '.join(_NPZ_KEYS)}; got {path!r}.")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in _NPZ_KEYS if k not in data.files]
        if missing:
            raise KeyError(f"{path} lacks the array(s) {', '.join(missing)}; it must hold "
                           f"{', '.join(_NPZ_KEYS)} (it has {', '.join(data.files) or 'none'}).")
        X_train, y_train, X_test, y_test = (data[k] for k in _NPZ_KEYS)
    for X, y, part in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        if len(X) != len(y):
            raise ValueError(f"{path}: X_{part} has {len(X)} rows but y_{part} {len(y)}.")
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"{path}: X_train rows have shape {X_train.shape[1:]} but X_test rows "
                         f"{X_test.shape[1:]}.")
    return (X_train.astype(np.float32), np.asarray(y_train), X_test.astype(np.float32),
            np.asarray(y_test))


#: training and test examples of the runner's MNIST-1D (the generator's 80/20 split of 60 000)
MNIST1D_SIZES = (48000, 12000)
#: seed of the generator (its own default), so that the data are the same on every machine
MNIST1D_SEED = 42


def _generate_mnist1d(n_train, n_test, seed):
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise ImportError("--dataset mnist1d needs the mnist1d package, which generates the "
                          "data: pip install 'sksubset[mnist1d]' (or pip install "
                          "mnist1d).") from exc
    args = get_dataset_args()  # the generator's defaults, but for the size and the seed
    args.num_samples, args.train_split, args.seed = n_train + n_test, 1.0, seed
    # make_dataset seeds the global generators of numpy and random: leave them as they were
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)  # never get_dataset: that one downloads
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    X, y = data["x"].astype(np.float32)[:, None], np.asarray(data["y"], dtype=np.int64)
    return {"X_train": X[:n_train], "y_train": y[:n_train], "X_test": X[n_train:],
            "y_test": y[n_train:]}


def load_mnist1d(cache_dir=None, n_train=MNIST1D_SIZES[0], n_test=MNIST1D_SIZES[1],
                 seed=MNIST1D_SEED):
    """MNIST-1D (Greydanus, 2020), generated by the ``mnist1d`` package; nothing is downloaded.

    Ten classes of 1-D signals of length 40: each digit's template padded,
    scaled, translated, sheared and noised at random (the generator's default
    settings), then standardized over the whole set.  The generator makes
    ``n_train + n_test`` examples (as many per class) with ``seed``, shuffled;
    the first ``n_train`` are the training set (as the generator's own split);
    the same arguments give the same arrays.

    Parameters
    ----------
    cache_dir : str, optional
        Folder where the arrays are kept as
        ``mnist1d_<n_train>_<n_test>_seed<seed>.npz``: read from there when
        present, else generated (about 8 s for the default 60 000 examples)
        and written there.  Default: generated every time.
    n_train, n_test : int, default=48000, 12000
    seed : int, default=42

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Signals as float32 of shape ``(n, 1, 40)``, int64 labels.

    Raises
    ------
    ImportError
        Naming ``pip install 'sksubset[mnist1d]'`` when ``mnist1d`` is missing.
    ValueError
        When ``n_train + n_test`` is not a multiple of the 10 classes.
    """
    if n_train < 1 or n_test < 1 or (n_train + n_test) % 10:
        raise ValueError(f"MNIST-1D makes as many examples of each of its 10 classes: "
                         f"n_train + n_test must be a positive multiple of 10; got {n_train} "
                         f"+ {n_test}.")
    path = (os.path.join(cache_dir, f"mnist1d_{int(n_train)}_{int(n_test)}_seed{int(seed)}.npz")
            if cache_dir else None)
    if path and os.path.isfile(path):
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in _NPZ_KEYS}
            if len(arrays["y_train"]) == n_train and len(arrays["y_test"]) == n_test:
                return tuple(arrays[k] for k in _NPZ_KEYS)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is generated again
    arrays = _generate_mnist1d(int(n_train), int(n_test), int(seed))
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)  # atomic: runs sharing the folder never read half a file
    return tuple(arrays[k] for k in _NPZ_KEYS)


#: training and test rows of the ``"tabular"`` set
TABULAR_SIZES = (60_000, 10_000)

#: the ``"tabular"`` set's class shares (ten classes, the largest 15 times the smallest)
TABULAR_WEIGHTS = (0.24, 0.18, 0.14, 0.11, 0.09, 0.07, 0.06, 0.05, 0.035, 0.025)


def load_tabular(n_train=TABULAR_SIZES[0], n_test=TABULAR_SIZES[1], seed=0):
    """A tabular classification set generated by :func:`sklearn.datasets.make_classification`.

    ``n_train + n_test`` rows of 40 features (20 informative, 10 redundant),
    ten imbalanced classes (:data:`TABULAR_WEIGHTS`, two clusters each), 10%
    of the labels assigned at random (``flip_y=0.1``), drawn with ``seed``;
    standardized with the training part's statistics.  Nothing is downloaded.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        float32 inputs, int64 labels.
    """
    X, y = make_classification(n_samples=n_train + n_test, n_features=40, n_informative=20,
                               n_redundant=10, n_classes=10, n_clusters_per_class=2,
                               weights=list(TABULAR_WEIGHTS), flip_y=0.1, class_sep=1.0,
                               random_state=seed)
    mu, sd = X[:n_train].mean(0), X[:n_train].std(0)
    X = ((X - mu) / sd).astype(np.float32)
    return X[:n_train], y[:n_train].astype(np.int64), X[n_train:], y[n_train:].astype(np.int64)


DATASETS = ("digits", "fashion-mnist", "cifar10", "mnist1d", "tabular", "npz") + REGRESSION_DATASETS


def load_dataset(name, data_dir=None, cache_dir=None):
    """Load one of :data:`DATASETS` as ``X_train, y_train, X_test, y_test``.

    Parameters
    ----------
    name : {"digits", "fashion-mnist", "cifar10", "mnist1d", "tabular", "npz", "diabetes", \
            "friedman"}
        ``"tabular"``: ``load_tabular()``.  The last two are regression sets
        (:mod:`sksubset.experiments.regression`).
    data_dir : str, optional
        Folder of the Fashion-MNIST IDX files (default
        :data:`FASHION_MNIST_DIR`), the ``cifar-10-batches-py`` folder, the
        ``.npz`` file, or the folder that keeps the generated MNIST-1D arrays
        (:func:`load_mnist1d`); unused for digits.
    cache_dir : str, optional
        Where the generated MNIST-1D arrays are kept when ``data_dir`` is not
        given (the runner passes its output folder's ``data``).

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
    """
    if name == "digits":
        return load_digits_split()
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "cifar10":
        return load_cifar10(data_dir)
    if name == "mnist1d":
        return load_mnist1d(data_dir or cache_dir)
    if name == "tabular":
        return load_tabular()
    if name == "npz":
        return load_npz(data_dir)
    if name in REGRESSION_DATASETS:
        return load_diabetes_split() if name == "diabetes" else load_friedman()
    raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def _sample(X, y, size, option):
    """A stratified random sample (seed 0) of ``size`` rows (a regression's: not
    stratified), or all of them."""
    if not size or size >= len(y):
        return X, y
    if is_regression(y):
        keep = np.sort(np.random.RandomState(0).choice(len(y), size, replace=False))
        return X[keep], y[keep]
    if size < len(np.unique(y)):
        raise ValueError(f"{option} {size} is smaller than the number of classes.")
    keep, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=0)
    keep = np.sort(keep)
    return X[keep], y[keep]


def load_data(cfg):
    """``X_train, y_train, X_test, y_test`` of a resolved
    :class:`~sksubset.experiments.plan.ExperimentConfig`, labels encoded as 0..C-1
    (samples of them with ``train_size`` / ``test_size``).

    Raises
    ------
    ValueError
        When the test set has labels the training set lacks.
    """
    X_train, y_train, X_test, y_test = load_dataset(
        cfg.dataset, cfg.data_dir, cache_dir=os.path.join(cfg.out, "data") if cfg.out else None)
    X_train, y_train = _sample(X_train, y_train, cfg.train_size, "--train-size")
    X_test, y_test = _sample(X_test, y_test, cfg.test_size, "--test-size")
    if is_regression(y_train):  # real targets, as they are
        return X_train, y_train, X_test, y_test
    classes = np.unique(y_train)
    unseen = np.setdiff1d(np.unique(y_test), classes)
    if len(unseen):
        raise ValueError(f"The test set has labels absent from the training set: "
                         f"{unseen[:10].tolist()}.")
    return (X_train, np.searchsorted(classes, y_train).astype(np.int64), X_test,
            np.searchsorted(classes, y_test).astype(np.int64))
