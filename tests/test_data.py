"""Tests of sksubset.data: training from torch Datasets as from arrays."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch import NeuralNetClassifier
from skorch.helper import SliceDataset
from torch import nn
from torch.utils.data import Dataset

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset._training._checks import N_CHECK_ROWS
from sksubset.data import SelectionView, dataset_labels, read_training_data

pytestmark = pytest.mark.usefixtures("one_thread")

#: the default selector with every example a candidate each round (no pool)
EVERY = GradMatchSelector(criterion="correlation", per_step="auto")


class Digits(Dataset):
    """``(x, y)`` items of arrays; logs every read; optionally has ``targets``."""

    def __init__(self, X, y, targets=True, transform=None):
        self.X, self.labels, self.transform = X, y, transform
        if targets:
            self.targets = list(y)
        self.reads = []

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        if not isinstance(i, (int, np.integer)):  # refuses slices, lists, arrays, tensors
            raise TypeError(f"only integer indices; got {type(i).__name__}")
        self.reads.append(int(i))
        x = torch.from_numpy(self.X[i])
        return (x if self.transform is None else self.transform(x)), int(self.labels[i])

    def __array__(self, *args, **kwargs):
        raise AssertionError("the dataset was copied into an array")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16).astype(np.float32), y[:300]


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))

    def forward(self, X):
        return self.layers(X)


def make_net(max_epochs=4, **kwargs):
    params = dict(module=MLP, criterion=nn.CrossEntropyLoss,
                  max_epochs=max_epochs, lr=0.1, batch_size=32, train_split=None, verbose=0)
    params.update(kwargs)
    return NeuralNetClassifier(**params)


def _fit(data, selector="gradmatch", **params):
    clf = SubsetTrainingClassifier(make_net(), selector=selector, budget=0.2, R=1, kappa=0.5,
                                   random_state=0, verbose=0, **params)
    return clf.fit(*data)


@pytest.mark.parametrize("selector,params", [
    ("gradmatch", {}), ("gradmatch", {"per_batch": True}), ("glister", {"valid_size": 0.2}),
    ("crest", {}), ("random", {})])
def test_dataset_and_arrays_give_the_same_run(digits, selector, params):
    X, y = digits
    a = _fit((X, y), selector, **params)
    d = _fit((Digits(X, y, targets=False), None), selector, **params)
    assert len(a.selection_history_) == len(d.selection_history_) >= (1 if selector == "crest"
                                                                     else 2)
    for ra, rd in zip(a.selection_history_, d.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rd["indices"])
        np.testing.assert_allclose(ra["weights"], rd["weights"], rtol=1e-5, atol=1e-7)
    for pa, pd in zip(a.net_.module_.parameters(), d.net_.module_.parameters()):
        torch.testing.assert_close(pa, pd, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a.predict(X), d.predict(Digits(X, y)))
    assert d.score(Digits(X, y)) == a.score(X, y)


def test_transform_runs_on_the_subset_every_epoch(digits):
    X, y = digits
    calls = []

    def counting(x):
        calls.append(1)
        return x

    ds = Digits(X, y, transform=counting)
    epochs, n = 5, len(y)
    net = make_net(max_epochs=epochs, iterator_train__shuffle=True)
    clf = SubsetTrainingClassifier(net, selector=EVERY, budget=0.2, R=100, kappa=0.0,
                                   random_state=0, verbose=0).fit(ds)
    (record,) = clf.selection_history_
    k = clf.subset_size_
    # one probe of the first item, fit's checks of the module on the first two and of its
    # loss on the first N_CHECK_ROWS, one selection pass over all rows, then k rows per epoch
    s = 3 + N_CHECK_ROWS
    assert len(ds.reads) == len(calls) == s + n + epochs * k
    assert ds.reads[:s] == [0, 0, 1] + list(range(N_CHECK_ROWS))
    assert ds.reads[s:s + n] == list(range(n))
    chosen = sorted(record["indices"].tolist())
    for e in range(epochs):
        epoch_reads = ds.reads[s + n + e * k:s + n + (e + 1) * k]
        assert sorted(epoch_reads) == chosen
    assert ds.reads[s + n:s + n + k] != ds.reads[s + n + k:s + n + 2 * k]  # reshuffled


def test_selection_reads_the_clean_view(digits):
    X, y = digits
    train, clean = Digits(X, y, transform=lambda x: x + 0.1 * torch.randn_like(x)), Digits(X, y)
    clf = SubsetTrainingClassifier(make_net(max_epochs=3), selector=EVERY, budget=0.2, R=100,
                                   kappa=0.0, valid_size=30, random_state=0, verbose=0)
    clf.fit(SelectionView(train, clean))
    n_pool, k = len(y) - 30, clf.subset_size_
    # selection: the pool, then the hold-out (through clean); skorch's validation: clean too
    assert len(clean.reads) == n_pool + 30 + 3 * 30
    # training: a probe of the first item, fit's module checks on the pool's first two and
    # first N_CHECK_ROWS, 3 epochs
    s = 1 + 2 + N_CHECK_ROWS
    assert len(train.reads) == s + 3 * k
    assert set(train.reads[s:]) == set(clf.selection_history_[0]["indices"].tolist())


def test_labels_from_targets_or_one_pass(digits):
    X, y = digits
    with_targets, without = Digits(X, y), Digits(X, y, targets=False)
    np.testing.assert_array_equal(dataset_labels(with_targets), y)
    assert with_targets.reads == []
    np.testing.assert_array_equal(dataset_labels(without), y)
    assert sorted(without.reads) == list(range(len(y)))
    sub = torch.utils.data.Subset(with_targets, [3, 1, 2])
    np.testing.assert_array_equal(dataset_labels(sub), y[[3, 1, 2]])
    sliced = SliceDataset(with_targets)[np.array([5, 0])]
    np.testing.assert_array_equal(dataset_labels(sliced), y[[5, 0]])
    assert with_targets.reads == []


def test_sliced_dataset_in_grid_search_and_cross_val_score(digits):
    X, y = digits
    ds = Digits(X, y)
    clf = SubsetTrainingClassifier(make_net(max_epochs=3), budget=0.3, R=1, random_state=0,
                                   verbose=0)
    scores = cross_val_score(clf, SliceDataset(ds), y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.1)
    # budgets whose subsets hold more than a mini-batch of 32, with or without the hold-out
    search = GridSearchCV(clf, {"budget": [0.3, 0.4], "valid_size": [None, 0.2]}, cv=2,
                          error_score="raise")
    search.fit(SliceDataset(ds), SliceDataset(ds, idx=1))
    assert set(search.best_params_) == {"budget", "valid_size"}
    assert search.score(SliceDataset(ds), y) > 0.1
    # the same folds from arrays give the same scores
    np.testing.assert_allclose(cross_val_score(clf, X, y, cv=2), scores)


def test_valid_size_and_net_split_with_a_dataset(digits):
    from skorch.dataset import ValidSplit

    X, y = digits
    a = _fit((X, y), valid_size=0.2)
    d = _fit((Digits(X, y), None), valid_size=0.2)
    np.testing.assert_array_equal(a.selection_history_[0]["indices"],
                                  d.selection_history_[0]["indices"])
    net = make_net(train_split=ValidSplit(5, stratified=True))
    clf = SubsetTrainingClassifier(net, budget=0.2, R=1, random_state=0, verbose=0)
    clf.fit(Digits(X, y))
    assert "valid_loss" in clf.net_.history[-1]
    assert len(clf.selection_history_[0]["indices"]) == clf.subset_size_


def test_bad_dataset_input(digits):
    X, y = digits
    clf = SubsetTrainingClassifier(make_net(), verbose=0)
    with pytest.raises(ValueError, match="y=None"):
        clf.fit(Digits(X, y), y)

    class Bare(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(64)

    with pytest.raises(ValueError, match=r"\(x, y\) pairs"):
        clf.fit(Bare())
    with pytest.raises(ValueError, match="labels"):
        clf.fit(SliceDataset(Digits(X, y)), y[:-1])
    with pytest.raises(ValueError, match="y"):
        clf.fit(X, None)
    with pytest.raises(ValueError):
        clf.fit(Digits(X, np.where(np.arange(len(y)) == 3, np.nan, y)))


def test_array_input_keeps_n_features_and_a_dataset_drops_it(digits):
    X, y = digits
    clf = SubsetTrainingClassifier(make_net(max_epochs=2), verbose=0)
    read_training_data(clf, X, y)
    assert clf.n_features_in_ == 64
    read_training_data(clf, Digits(X, y), None)
    assert not hasattr(clf, "n_features_in_")


def test_selection_pass_uses_the_nets_inference_iterator(digits, monkeypatch):
    X, y = digits
    seen = []
    original = torch.utils.data.DataLoader.__init__

    def spy(self, dataset, **kwargs):
        seen.append(kwargs)
        original(self, dataset, **kwargs)

    monkeypatch.setattr(torch.utils.data.DataLoader, "__init__", spy)
    net = make_net(max_epochs=2, iterator_valid__batch_size=64, iterator_valid__num_workers=1)
    clf = SubsetTrainingClassifier(net, budget=0.2, R=1, kappa=0.0, random_state=0, verbose=0)
    clf.fit(Digits(X, y))
    selection = [kw for kw in seen if kw.get("num_workers") == 1]
    assert selection and all(kw["batch_size"] == 64 and kw["shuffle"] is False
                             for kw in selection)
    arrays = SubsetTrainingClassifier(make_net(max_epochs=2), budget=0.2, R=1, kappa=0.0,
                                      random_state=0, verbose=0).fit(X, y)
    for ra, rd in zip(arrays.selection_history_, clf.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rd["indices"])
