"""Tests of :mod:`sksubset._training._harvest`: rounds built from what training computed.

The buffers and the hook alone; then through ``fit``: harvested factors equal a separate
forward pass for a frozen net, the first round after a warm start makes no forward pass, the
candidate pools of GRAD-MATCH take the rows trained since the last round free and a fresh
slice that cycles through the data, and arrays or a Dataset with an identity transform select
the same.
"""

import numpy as np
import pytest
import torch
from conftest import FixedSelector
from conftest import digits_net as make_net
from torch import nn
from torch.utils.data import Dataset

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset._factors import dloss_dlogits
from sksubset._training._harvest import Harvest
from sksubset.data import SelectionView
from sksubset.gradients import LastLayer, find_last_linear, last_layer_gradients

#: the default selector with every example a candidate each round (no pool)
EVERY = GradMatchSelector(criterion="correlation", per_step="auto")

pytestmark = pytest.mark.usefixtures("one_thread")


# -- the harvest alone -----------------------------------------------------------------
def _module():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


def test_a_batch_writes_its_rows_and_the_hook_lives_only_while_it_runs():
    module, h = _module(), Harvest(10, "cpu")
    layer = find_last_linear(module)
    assert h.Hb is None and h.Z is None and not len(h.free())  # allocated at the first batch
    x, rows = torch.randn(4, 5), torch.tensor([7, 2, 5, 0])
    h.begin_batch(module)
    assert len(layer._forward_hooks) == 1
    z = module(x)
    h.end_batch(rows)
    assert len(layer._forward_hooks) == 0
    assert h.Hb.shape == (10, 8) and h.Z.shape == (10, 3)
    assert h.Hb.dtype == h.Z.dtype == torch.float32
    np.testing.assert_array_equal(h.free(), [0, 2, 5, 7])
    torch.testing.assert_close(h.Z[rows], z.detach())
    torch.testing.assert_close(h.Hb[rows, 1:], torch.relu(module[0](x)).detach())
    assert bool((h.Hb[:, 0] == 1).all())
    module(torch.randn(3, 5))  # outside a training batch: nothing captured
    h.end_batch(torch.tensor([1, 3, 4]))
    np.testing.assert_array_equal(h.free(), [0, 2, 5, 7])
    h.reset()
    assert not len(h.free())


def test_factors_interleave_harvested_and_forward_rows():
    module, h = _module(), Harvest(10, "cpu")
    X, y = torch.randn(10, 5), torch.arange(10) % 3
    h.begin_batch(module)
    module(X[[1, 4, 6]])
    h.end_batch(torch.tensor([1, 4, 6]))
    criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    asked = []

    def forward(rows):
        asked.append(rows)
        with torch.no_grad():
            hid = torch.relu(module[0](X[rows]))
            z = module[2](hid)
        Hb = torch.cat([torch.ones(len(rows), 1), hid], 1)
        return LastLayer(dloss_dlogits(z, z, y[rows], criterion, "logits"), Hb, z, y[rows])

    idx = np.array([6, 0, 4, 9])
    ll, n_harvested, n_forward = h.factors(idx, y, criterion, forward)
    assert (n_harvested, n_forward) == (2, 2)
    np.testing.assert_array_equal(asked[0], [0, 9])  # a pass over just the others
    ref = forward(idx)
    for got, want in zip((ll.E, ll.Hb, ll.Z, ll.y), (ref.E, ref.Hb, ref.Z, ref.y)):
        torch.testing.assert_close(got, want)
    # all rows (None): nothing to pass when all were trained; no harvest: a pass over all
    h.begin_batch(module)
    module(X)
    h.end_batch(torch.arange(10))
    assert h.factors(None, y, criterion, forward)[1:] == (10, 0)
    h.reset()
    assert h.factors(None, y, criterion, lambda rows: rows)[1:] == (0, 10)


# -- through fit ---------------------------------------------------------------------
SEEN = []


class Recording(FixedSelector):
    """A fixed subset; records each round's free rows and the factors of all rows."""

    def select(self, context):
        SEEN.append((context.free.copy(), context.train(None)))
        return super().select(context)


FROZEN = {
    "ce": {},
    "ce_weighted_smoothed": dict(criterion__weight=torch.linspace(0.5, 2.0, 10),
                                 criterion__label_smoothing=0.1),
    "nll_softmax_weighted": dict(softmax=True, criterion__weight=torch.linspace(2.0, 0.5, 10)),
}


@pytest.mark.parametrize("options", FROZEN.values(), ids=FROZEN.keys())
def test_harvested_factors_equal_a_forward_pass_of_a_frozen_net(small, options):
    """With lr = 0 and no dropout, training's forward passes compute what a separate pass does:
    the context's factors equal ``last_layer_gradients`` on the same rows, in the first round
    (all harvested) and in the second (the subset's rows harvested, the others passed)."""
    X, y = small
    subset = np.arange(0, 400, 5)
    SEEN.clear()
    clf = SubsetTrainingClassifier(make_net(max_epochs=10, lr=0.0, **options),
                                   selector=Recording(subset, np.ones(80)), budget=0.2, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    ref = last_layer_gradients(clf.net_, X, y)
    assert len(SEEN) == 3
    for (free, ll), expected in zip(SEEN, (np.arange(400), subset, subset)):
        np.testing.assert_array_equal(free, expected)
        for got, want in zip((ll.E, ll.Hb, ll.Z), (ref.E, ref.Hb, ref.Z)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ll.y, ref.y)
    rows = [(r["n_harvested"], r["n_forward"]) for r in clf.selection_history_]
    assert rows == [(400, 0), (80, 320), (80, 320)]


def test_first_round_after_a_warm_start_makes_no_forward_pass(small):
    X, y = small
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), selector=EVERY, budget=0.2, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    first, *later = clf.selection_history_
    assert (first["n_harvested"], first["n_forward"]) == (400, 0)
    for prev, rec in zip(clf.selection_history_, later):  # the last subset's rows are free
        assert rec["n_harvested"] == len(np.unique(prev["indices"]))
        assert rec["n_harvested"] + rec["n_forward"] == 400
    # without a warm start nothing was trained before the first round
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), selector=EVERY, budget=0.2, R=2,
                                   kappa=0.0, random_state=0, verbose=0).fit(X, y)
    first = clf.selection_history_[0]
    assert (first["n_harvested"], first["n_forward"]) == (0, 400)


def test_only_the_epoch_before_a_round_keeps_what_it_computes(small, monkeypatch):
    """The subset is trained whole every epoch, so the epoch before a round holds every row
    trained since the last one; RANDOM reads no factors, so nothing is kept for it."""
    X, y = small
    calls = []
    original = Harvest.begin_batch
    monkeypatch.setattr(Harvest, "begin_batch",
                        lambda self, module: calls.append(1) or original(self, module))
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), budget=0.2, R=2, random_state=0,
                                   verbose=0).fit(X, y)
    before_a_round = [e for e in range(clf.schedule_.n_trained)
                      if e + 1 in clf.schedule_.selection_epochs]
    assert before_a_round and len(before_a_round) < clf.schedule_.n_trained
    n_batches = [len(h["batches"]) for h in clf.net_.history]
    assert len(calls) == sum(n_batches[e] for e in before_a_round)
    calls.clear()
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), selector="random", budget=0.2, R=2,
                                   random_state=0, verbose=0).fit(X, y)
    assert not calls
    assert all(r["n_harvested"] == r["n_forward"] == 0 for r in clf.selection_history_)


POOLS = []


class PoolRecorder(GradMatchSelector):
    """GRAD-MATCH that records each round's free rows and the rows it asks factors of."""

    def select(self, context):
        asked, train_fn = [], context.train_fn

        def recording(idx):
            asked.append(None if idx is None else np.asarray(idx).copy())
            return train_fn(idx)

        context.train_fn = recording
        out = super().select(context)
        POOLS.append((context.free.copy(), asked))
        return out


def _pool_run(X, y, sampling, seed=0):
    POOLS.clear()
    selector = PoolRecorder(pool_factor=3, sampling=sampling)
    clf = SubsetTrainingClassifier(make_net(max_epochs=20), selector=selector, budget=0.1, R=2,
                                   random_state=seed, verbose=0).fit(X, y)
    return clf, list(POOLS)


@pytest.mark.usefixtures("no_min_pool")
@pytest.mark.parametrize("sampling", ["cycle", "independent"])
def test_pool_rows_trained_since_the_last_round_come_from_the_harvest(small, sampling):
    """k = 40, m = 120 of 400, one warm epoch, 5 rounds: the first pool is harvested whole;
    in each later one the rows of the previous subset it holds are harvested, the rest passed."""
    X, y = small
    clf, pools = _pool_run(X, y, sampling)
    history = clf.selection_history_
    assert len(history) == len(pools) == 5
    free, asked = pools[0]
    np.testing.assert_array_equal(free, np.arange(400))
    assert len(asked) == 1 and len(asked[0]) == 120
    assert (history[0]["n_harvested"], history[0]["n_forward"]) == (120, 0)
    for prev, rec, (free, asked) in zip(history, history[1:], pools[1:]):
        np.testing.assert_array_equal(free, np.unique(prev["indices"]))
        pool = asked[0]
        assert len(asked) == 1 and len(pool) == 120 == rec["pool_size"]
        n_free = int(np.isin(pool, free).sum())
        assert (rec["n_harvested"], rec["n_forward"]) == (n_free, 120 - n_free)


@pytest.mark.usefixtures("no_min_pool")
def test_cycling_pools_cycle_through_the_data(small):
    """With sampling="cycle" the pools are distinct rows until every row was examined:
    3 pools of 120, then the fourth holds the 40 rows never examined."""
    X, y = small
    _, pools = _pool_run(X, y, "cycle")
    drawn = [asked[0] for _, asked in pools]
    assert len(np.unique(np.concatenate(drawn[:3]))) == 360
    assert np.isin(np.setdiff1d(np.arange(400), np.concatenate(drawn[:3])), drawn[3]).all()


def test_same_random_state_same_run_with_pools(small):
    X, y = small
    a, pools_a = _pool_run(X, y, "cycle", seed=3)
    b, pools_b = _pool_run(X, y, "cycle", seed=3)
    for ra, rb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rb["indices"])
        np.testing.assert_allclose(ra["weights"], rb["weights"])
        assert (ra["n_harvested"], ra["n_forward"]) == (rb["n_harvested"], rb["n_forward"])
    for (fa, asked_a), (fb, asked_b) in zip(pools_a, pools_b):
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(asked_a[0], asked_b[0])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5)


class Transformed(Dataset):
    """``(transform(X[i]), y[i])`` items, as a torchvision dataset with a transform."""

    def __init__(self, X, y, transform=None):
        self.X, self.targets, self.transform = torch.as_tensor(X), np.asarray(y), transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        x = self.X[i]
        return (x if self.transform is None else self.transform(x)), int(self.targets[i])


@pytest.mark.parametrize("pool_factor", [None, 1.5])
def test_a_dataset_with_an_identity_transform_selects_as_arrays(small, pool_factor):
    X, y = small
    kw = dict(budget=0.2, R=2, random_state=0, verbose=0,
              selector=GradMatchSelector(pool_factor=pool_factor, sampling="cycle"))
    a = SubsetTrainingClassifier(make_net(max_epochs=10), **kw).fit(X, y)
    b = SubsetTrainingClassifier(make_net(max_epochs=10), **kw).fit(
        Transformed(X, y, transform=lambda x: x.clone()), None)
    assert len(a.selection_history_) == len(b.selection_history_) == 3
    for ra, rb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ra["indices"], rb["indices"])
        np.testing.assert_allclose(ra["weights"], rb["weights"], rtol=1e-5)
        assert (ra["n_harvested"], ra["n_forward"]) == (rb["n_harvested"], rb["n_forward"])
    assert b.selection_history_[0]["n_forward"] == 0


def test_a_selection_view_is_not_harvested(small):
    """Selecting on other inputs than training's (clean ones): every round a forward pass."""
    X, y = small
    view = SelectionView(Transformed(X, y, transform=lambda x: x + 0.01), Transformed(X, y))
    clf = SubsetTrainingClassifier(make_net(max_epochs=10), selector=EVERY, budget=0.2, R=2,
                                   random_state=0, verbose=0).fit(view, None)
    assert [(r["n_harvested"], r["n_forward"]) for r in clf.selection_history_] == [(0, 400)] * 3
