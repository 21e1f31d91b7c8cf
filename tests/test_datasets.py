"""Dataset loaders of the experiment runner (all local; nothing is downloaded)."""

import gzip
import struct

import numpy as np
import pytest

from sksubset.experiments import ExperimentConfig, datasets
from sksubset.experiments.datasets import (
    load_data,
    load_dataset,
    load_fashion_mnist,
    load_npz,
    read_idx,
)


def write_idx(path, array):
    """Write ``array`` (uint8) as an IDX file, gzipped when ``path`` ends in ``.gz``."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def test_read_idx_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "lab", [7, 1])
    np.testing.assert_array_equal(read_idx(str(tmp_path / "img.gz")), images)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "lab")), [7, 1])


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x01\x02\x08\x01rest")
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(str(tmp_path / "junk"))
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"ab")
    with pytest.raises(ValueError, match="announces"):
        read_idx(str(tmp_path / "short"))


def test_fashion_mnist_from_tiny_files(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{name}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    X_train, y_train, X_test, y_test = load_fashion_mnist(str(tmp_path))
    assert X_train.shape == (6, 1, 28, 28) and X_test.shape == (4, 1, 28, 28)
    assert X_train.dtype == np.float32 and 0 <= X_train.min() and X_train.max() <= 1
    assert y_train.dtype == np.int64
    np.testing.assert_array_equal(y_test, [0, 1, 2, 3])


def test_fashion_mnist_missing_names_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as exc:
        load_fashion_mnist(str(tmp_path / "nowhere"))
    assert "train-images-idx3-ubyte.gz" in str(exc.value)
    assert datasets.FASHION_MNIST_DIR == "/usr/share/datasets/fashion-mnist"


def test_npz_missing_keys_listed(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X_train=np.zeros((3, 2)), y_train=np.zeros(3))
    with pytest.raises(KeyError) as exc:
        load_npz(str(path))
    assert "X_test" in str(exc.value) and "y_test" in str(exc.value)
    assert "X_train," not in str(exc.value).split("lacks")[1].split(";")[0]
    with pytest.raises(FileNotFoundError, match="npz"):
        load_npz(str(tmp_path / "absent.npz"))


def test_npz_loads(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X_train=np.ones((4, 3)), y_train=np.array([0, 1, 0, 1]),
             X_test=np.ones((2, 3)), y_test=np.array([1, 0]))
    X_train, y_train, X_test, y_test = load_dataset("npz", str(path))
    assert X_train.dtype == np.float32 and X_test.shape == (2, 3)
    np.testing.assert_array_equal(y_test, [1, 0])


def test_digits_split():
    X_train, y_train, X_test, y_test = load_dataset("digits")
    assert X_train.shape == (1257, 64) and X_test.shape == (540, 64)
    assert X_train.dtype == np.float32 and X_train.min() == 0 and X_train.max() == 1
    counts = np.bincount(y_test) / len(y_test)
    assert np.allclose(counts, np.bincount(y_train) / len(y_train), atol=0.01)  # stratified
    np.testing.assert_array_equal(load_dataset("digits")[3], y_test)  # seeded


def test_unknown_dataset():
    with pytest.raises(ValueError, match="digits"):
        load_dataset("cifar")


def write_cifar10(folder, n_per_batch=6, seed=0):
    """A tiny folder in the format of ``cifar-10-batches-py`` (pickled dicts of bytes keys)."""
    import pickle

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in datasets.CIFAR10_FILES:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = (np.arange(n_per_batch) % 10).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
        arrays[name] = (data, labels)
    return arrays


def test_cifar10_from_a_tiny_folder(tmp_path):
    arrays = write_cifar10(tmp_path / "cifar-10-batches-py")
    X_train, y_train, X_test, y_test = datasets.load_cifar10(str(tmp_path))  # the parent works
    assert X_train.shape == (30, 3, 32, 32) and X_test.shape == (6, 3, 32, 32)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    raw = arrays["data_batch_2"][0][1].reshape(3, 32, 32)
    mean = np.asarray(datasets.CIFAR10_MEAN).reshape(3, 1, 1)
    std = np.asarray(datasets.CIFAR10_STD).reshape(3, 1, 1)
    np.testing.assert_allclose(X_train[7], (raw / 255.0 - mean) / std, atol=1e-6)
    np.testing.assert_array_equal(y_test, arrays["test_batch"][1])
    X2 = load_dataset("cifar10", str(tmp_path / "cifar-10-batches-py"))[0]
    np.testing.assert_array_equal(X2, X_train)


def test_cifar10_missing_files_named(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3, test_batch.*not downloaded"):
        datasets.load_cifar10(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        datasets.load_cifar10(None)
    (tmp_path / "test_batch").write_bytes(b"not a pickle of a dict")
    write_cifar10(tmp_path)
    import pickle
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump([1, 2], f)
    with pytest.raises(ValueError, match="not a CIFAR-10 batch"):
        datasets.load_cifar10(str(tmp_path))


def test_load_data_samples_are_stratified_and_labels_encoded():
    cfg = ExperimentConfig(dataset="digits", train_size=100, test_size=50).resolved()
    X_train, y_train, X_test, y_test = load_data(cfg)
    assert X_train.shape == (100, 64) and len(y_test) == 50
    assert np.bincount(y_train).min() >= 9 and np.bincount(y_test).min() >= 4
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == set(range(10))
    with pytest.raises(ValueError, match="--train-size"):
        load_data(ExperimentConfig(dataset="digits", train_size=5).resolved())


def test_load_data_rejects_test_labels_unseen_in_training(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X_train=np.zeros((4, 2)), y_train=np.array([3, 3, 5, 5]),
             X_test=np.zeros((2, 2)), y_test=np.array([5, 7]))
    with pytest.raises(ValueError, match=r"absent from the training set: \[7\]"):
        load_data(ExperimentConfig(dataset="npz", data_dir=str(path)).resolved())
    np.savez(path, X_train=np.zeros((4, 2)), y_train=np.array([3, 3, 5, 5]),
             X_test=np.zeros((2, 2)), y_test=np.array([5, 3]))
    _, y_train, _, y_test = load_data(ExperimentConfig(dataset="npz", data_dir=str(path))
                                      .resolved())
    assert y_train.tolist() == [0, 0, 1, 1] and y_test.tolist() == [1, 0]


class FakeMnist1d:
    """Stands for ``mnist1d.data``: the generator's interface, seeded through the global numpy
    generator as the real one is (so that tests run without the package)."""

    calls = 0

    @staticmethod
    def get_dataset_args():
        from types import SimpleNamespace
        return SimpleNamespace(num_samples=5000, train_split=0.8, seed=42, final_seq_length=40,
                               url="https://example.invalid/never-downloaded")

    @classmethod
    def make_dataset(cls, args):
        cls.calls += 1
        np.random.seed(args.seed)  # the real make_dataset reseeds the global generators
        n = args.num_samples
        x, y = np.random.randn(n, args.final_seq_length), np.arange(n) % 10
        split = int(n * args.train_split)
        return {"x": x[:split], "y": y[:split], "x_test": x[split:], "y_test": y[split:]}

    @staticmethod
    def get_dataset(*args, **kwargs):
        raise AssertionError("get_dataset downloads: never called")


@pytest.fixture
def fake_mnist1d(monkeypatch):
    import sys
    import types
    package = types.ModuleType("mnist1d")
    package.data = FakeMnist1d
    monkeypatch.setitem(sys.modules, "mnist1d", package)
    monkeypatch.setitem(sys.modules, "mnist1d.data", FakeMnist1d)
    FakeMnist1d.calls = 0
    return FakeMnist1d


def test_mnist1d_missing_package_names_pip(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"pip install 'sksubset\[mnist1d\]'"):
        datasets.load_mnist1d(str(tmp_path))
    with pytest.raises(ImportError, match="mnist1d"):
        load_dataset("mnist1d")


def test_mnist1d_generated_split_seeded_and_cached(fake_mnist1d, tmp_path):
    assert "mnist1d" in datasets.DATASETS
    assert datasets.MNIST1D_SIZES == (48000, 12000) and datasets.MNIST1D_SEED == 42
    np.random.seed(7)
    expected_next = np.random.rand()
    np.random.seed(7)
    X_train, y_train, X_test, y_test = datasets.load_mnist1d(str(tmp_path), 80, 20, seed=3)
    assert np.random.rand() == expected_next  # the global generator left as it was
    assert X_train.shape == (80, 1, 40) and X_test.shape == (20, 1, 40)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.random.seed(3)
    np.testing.assert_array_equal(X_train[:, 0], np.random.randn(100, 40)[:80].astype(np.float32))
    assert (tmp_path / "mnist1d_80_20_seed3.npz").is_file()
    again = datasets.load_mnist1d(str(tmp_path), 80, 20, seed=3)  # from the cache
    assert fake_mnist1d.calls == 1
    for a, b in zip(again, (X_train, y_train, X_test, y_test)):
        np.testing.assert_array_equal(a, b)
    datasets.load_mnist1d(None, 80, 20, seed=3)  # no cache folder: generated
    assert fake_mnist1d.calls == 2
    (tmp_path / "mnist1d_80_20_seed3.npz").write_bytes(b"damaged")
    np.testing.assert_array_equal(datasets.load_mnist1d(str(tmp_path), 80, 20, seed=3)[0],
                                  X_train)  # a damaged cache is made again
    with pytest.raises(ValueError, match="multiple of 10"):
        datasets.load_mnist1d(None, 85, 20)


def test_mnist1d_through_the_runner_cache(fake_mnist1d, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MNIST1D_SIZES", (80, 20))
    monkeypatch.setattr(datasets.load_mnist1d, "__defaults__", (None, 80, 20, 42))
    cfg = ExperimentConfig(dataset="mnist1d", out=str(tmp_path / "out")).resolved()
    X_train, y_train, X_test, _ = load_data(cfg)
    assert X_train.shape == (80, 1, 40) and set(np.unique(y_train)) == set(range(10))
    assert (tmp_path / "out" / "data" / "mnist1d_80_20_seed42.npz").is_file()
    load_dataset("mnist1d", str(tmp_path / "mine"))  # --data-dir: the cache folder
    assert (tmp_path / "mine" / "mnist1d_80_20_seed42.npz").is_file()


def test_mnist1d_real_generator(tmp_path):
    """With the mnist1d package installed: its generator, the same arrays every time."""
    pytest.importorskip("mnist1d", reason="the mnist1d package is not installed (pip install "
                                          "'sksubset[mnist1d]')")
    X_train, y_train, X_test, y_test = datasets.load_mnist1d(str(tmp_path), 400, 100)
    assert X_train.shape == (400, 1, 40) and X_test.shape == (100, 1, 40)
    assert X_train.dtype == np.float32 and set(np.unique(y_train)) == set(range(10))
    assert abs(float(np.concatenate([X_train, X_test]).mean())) < 0.05  # standardized
    fresh = datasets.load_mnist1d(None, 400, 100)
    np.testing.assert_array_equal(fresh[0], X_train)
    np.testing.assert_array_equal(fresh[3], y_test)
