"""Tests of :mod:`sksubset.training` (weighted subset training inside skorch)."""

import copy
import math
import pickle
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import DataLoader

from sksubset.training import (
    SubsetDataset,
    SubsetSchedule,
    WeightedCrossEntropyLoss,
    WeightedNLLLoss,
    skip_lr_epochs,
    weighted_criterion,
)


# ---------------------------------------------------------------------------
# SubsetDataset
# ---------------------------------------------------------------------------
@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g)
    y = torch.arange(10) % 3
    return X, y


def test_dataset_defaults_to_everything(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    assert len(ds) == 10
    for i in (0, 4, 9):
        x, (t, w) = ds[i]
        assert torch.equal(x, X[i]) and t == y[i] and float(w) == 1.0


def test_dataset_subset_swap(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([7, 2, 5], [1.0, 2.0, 3.0])
    assert len(ds) == 3
    items = [ds[i] for i in range(3)]
    for (x, (t, w)), j, wj in zip(items, [7, 2, 5], [0.5, 1.0, 1.5]):
        assert torch.equal(x, X[j])
        assert int(t) == int(y[j])
        assert float(w) == pytest.approx(wj)
    assert ds.weights.dtype == torch.float32
    # swap again, to a different size, without weights
    ds.set_subset(np.array([1, 9]), None)
    assert len(ds) == 2
    x, (t, w) = ds[1]
    assert torch.equal(x, X[9]) and float(w) == 1.0
    with pytest.raises(IndexError):
        ds[2]


def test_dataset_weights_mean_one_ratios_kept(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 40.0, size=6)
    ds.set_subset(np.arange(6), w)
    got = ds.weights.double().numpy()
    assert got.mean() == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(got / got[0], w / w[0], rtol=1e-6)
    # zero weights stay zero (ratio kept), the others are rescaled
    ds.set_subset([0, 1, 2, 3], [0.0, 1.0, 0.0, 3.0])
    np.testing.assert_allclose(ds.weights.numpy(), [0.0, 1.0, 0.0, 3.0])


def test_dataset_all_zero_weights_fall_back_to_ones(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([0, 1, 2], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ds.weights.numpy(), [1.0, 1.0, 1.0])


def test_dataset_collates_for_a_loader(xy):
    X, y = xy
    ds = SubsetDataset(X, y)
    ds.set_subset([3, 4, 8, 0], [2.0, 2.0, 1.0, 3.0])
    xb, (yb, wb) = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert torch.equal(xb, X[[3, 4, 8, 0]])
    assert torch.equal(yb, y[[3, 4, 8, 0]])
    torch.testing.assert_close(wb, torch.tensor([1.0, 1.0, 0.5, 1.5]))


# ---------------------------------------------------------------------------
# weighted losses
# ---------------------------------------------------------------------------
@pytest.fixture
def logits_targets():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, 4, generator=g)
    t = torch.tensor([0, 3, 1, 1, 2, 0, 3, 2])
    w = torch.rand(8, generator=g) * 3
    return z, t, w


LOSSES = [
    (WeightedCrossEntropyLoss, torch.nn.CrossEntropyLoss, lambda z: z),
    (WeightedNLLLoss, torch.nn.NLLLoss, lambda z: torch.log_softmax(z, 1)),
]


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kwargs", [{}, {"weight": torch.tensor([0.5, 1.0, 2.0, 1.5])}],
                         ids=["plain", "class_weight"])
def test_plain_targets_give_the_base_loss(weighted, base, prep, reduction, kwargs,
                                          logits_targets):
    z, t, _ = logits_targets
    got = weighted(reduction=reduction, **kwargs)(prep(z), t)
    want = base(reduction=reduction, **kwargs)(prep(z), t)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_subset(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    per = base(reduction="none")(prep(z), t)
    crit = weighted(weighting="subset")
    torch.testing.assert_close(crit(prep(z), (t, w)), (w * per).mean())
    assert crit.reduction == "mean"  # restored after the call
    torch.testing.assert_close(crit(prep(z), [t, w]), (w * per).mean())
    sub = {"weighting": "subset"}
    torch.testing.assert_close(weighted(reduction="sum", **sub)(prep(z), (t, w)), (w * per).sum())
    torch.testing.assert_close(weighted(reduction="none", **sub)(prep(z), (t, w)), w * per)
    # unit weights: the usual mean loss
    torch.testing.assert_close(crit(prep(z), (t, torch.ones(8))), base()(prep(z), t))
    # a float64 weight tensor is cast to the loss dtype
    out = crit(prep(z), (t, w.double()))
    assert out.dtype == torch.float32


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_batch(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    per = base(reduction="none")(prep(z), t)
    crit = weighted()
    assert crit.weighting == "batch"  # the default
    torch.testing.assert_close(crit(prep(z), (t, w)), (w * per).sum() / w.sum())
    # scale invariant: every weight times a constant gives the same loss
    for c in (1e-20, 0.37, 4.0, 1e20):
        torch.testing.assert_close(crit(prep(z), (t, w * c)), crit(prep(z), (t, w)))
    torch.testing.assert_close(weighted(reduction="sum")(prep(z), (t, w)),
                               (w * per).sum() * (len(w) / w.sum()))
    torch.testing.assert_close(weighted(reduction="none")(prep(z), (t, w)),
                               w * per * (len(w) / w.sum()))
    torch.testing.assert_close(crit(prep(z), (t, torch.ones(8))), base()(prep(z), t))
    assert crit(prep(z), (t, w.double())).dtype == torch.float32


@pytest.mark.parametrize("weighted,base,prep", LOSSES, ids=["ce", "nll"])
def test_weighted_targets_none_ignores_weights(weighted, base, prep, logits_targets):
    z, t, w = logits_targets
    for reduction in ("mean", "sum", "none"):
        got = weighted(weighting="none", reduction=reduction)(prep(z), (t, w))
        assert torch.equal(got, base(reduction=reduction)(prep(z), t))


def test_batch_weighting_all_zero_weights_give_zero_loss(logits_targets):
    z, t, _ = logits_targets
    z1 = z.clone().requires_grad_(True)
    loss = WeightedCrossEntropyLoss()(z1, (t, torch.zeros(8)))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z1.grad, torch.zeros_like(z))


@pytest.mark.parametrize("bad", ["mean", "Batch", None, 1])
def test_unknown_weighting(bad):
    with pytest.raises(ValueError, match="weighting must be one of 'batch', 'subset', 'none'"):
        WeightedCrossEntropyLoss(weighting=bad)


def test_weighted_label_smoothing(logits_targets):
    z, t, w = logits_targets
    per = F.cross_entropy(z, t, reduction="none", label_smoothing=0.2)
    crit = WeightedCrossEntropyLoss(label_smoothing=0.2)
    torch.testing.assert_close(crit(z, (t, w)), (w * per).sum() / w.sum())


def test_weighted_loss_gradient(logits_targets):
    z, t, w = logits_targets
    z1 = z.clone().requires_grad_(True)
    WeightedCrossEntropyLoss(reduction="sum", weighting="subset")(z1, (t, w)).backward()
    z2 = z.clone().requires_grad_(True)
    (F.cross_entropy(z2, t, reduction="none") * w).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad)
    # zero weight: no gradient from that example
    assert torch.equal(z1.grad[w == 0], torch.zeros_like(z1.grad[w == 0]))


def test_weighted_criterion_mapping():
    assert weighted_criterion(torch.nn.CrossEntropyLoss) is WeightedCrossEntropyLoss
    assert weighted_criterion(torch.nn.NLLLoss) is WeightedNLLLoss
    assert weighted_criterion(WeightedCrossEntropyLoss) is WeightedCrossEntropyLoss
    assert weighted_criterion(WeightedNLLLoss) is WeightedNLLLoss
    assert issubclass(WeightedCrossEntropyLoss, torch.nn.CrossEntropyLoss)
    assert issubclass(WeightedNLLLoss, torch.nn.NLLLoss)


@pytest.mark.parametrize("bad", [torch.nn.CrossEntropyLoss(), torch.nn.MSELoss,
                                 torch.nn.BCEWithLogitsLoss, "CrossEntropyLoss", None])
def test_weighted_criterion_errors(bad):
    with pytest.raises(ValueError, match="criterion"):
        weighted_criterion(bad)


# ---------------------------------------------------------------------------
# skip_lr_epochs
# ---------------------------------------------------------------------------
def _fitted_net(toy_net_factory, toy_data, callbacks, epochs=1):
    X, y = toy_data(n=32)
    net = toy_net_factory(criterion=torch.nn.CrossEntropyLoss, callbacks=callbacks,
                          max_epochs=epochs, lr=0.1)
    net.fit(X, y)
    return net


def _lr(net):
    return net.optimizer_.param_groups[0]["lr"]


def _sched(net, name="lr"):
    return dict(net.callbacks_)[name].lr_scheduler_


@pytest.mark.parametrize("n_skip", [1, 3, 8, 15])
def test_skip_lr_epochs_matches_stepping(n_skip, toy_net_factory, toy_data):
    def cbs():
        return [("lr", LRScheduler(policy=CosineAnnealingLR, T_max=10))]

    net = _fitted_net(toy_net_factory, toy_data, cbs())
    ref = _fitted_net(toy_net_factory, toy_data, cbs())
    assert _sched(net).last_epoch == 1  # one epoch trained
    lr_before = _lr(net)
    skip_lr_epochs(net, n_skip)
    for _ in range(n_skip):
        _sched(ref).step()
    assert _sched(net).last_epoch == 1 + n_skip
    assert _lr(net) == pytest.approx(_lr(ref), rel=1e-12, abs=1e-15)
    assert _lr(net) != pytest.approx(lr_before)
    # an independent torch scheduler stepped 1 + n_skip times agrees as well
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=10)
    for _ in range(1 + n_skip):
        opt.step()
        sched.step()
    assert _lr(net) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
    if n_skip < 10:  # within the first half-period the closed form holds
        t = 1 + n_skip
        assert _lr(net) == pytest.approx(0.05 * (1 + math.cos(math.pi * t / 10)), abs=1e-9)


@pytest.mark.parametrize("n_skip", [0, -2])
def test_skip_lr_epochs_nothing_to_skip(n_skip, toy_net_factory, toy_data):
    net = _fitted_net(toy_net_factory, toy_data,
                      [("lr", LRScheduler(policy=CosineAnnealingLR, T_max=10))])
    lr = _lr(net)
    skip_lr_epochs(net, n_skip)
    assert _sched(net).last_epoch == 1
    assert _lr(net) == lr


def test_skip_lr_epochs_ignores_batch_and_plateau_schedulers(toy_net_factory, toy_data):
    cbs = [("batch", LRScheduler(policy=CosineAnnealingLR, T_max=50, step_every="batch")),
           ("plateau", LRScheduler(policy="ReduceLROnPlateau", monitor="train_loss"))]
    net = _fitted_net(toy_net_factory, toy_data, cbs)
    batch_sched = _sched(net, "batch")
    before = batch_sched.last_epoch
    lr = _lr(net)
    skip_lr_epochs(net, 4)
    assert batch_sched.last_epoch == before
    assert _lr(net) == lr


def test_skip_lr_epochs_before_training(toy_net_factory):
    net = toy_net_factory(criterion=torch.nn.CrossEntropyLoss,
                          callbacks=[("lr", LRScheduler(policy=CosineAnnealingLR, T_max=10))])
    lr = _lr(net)
    skip_lr_epochs(net, 3)  # no scheduler built yet: nothing to do, no error
    assert _lr(net) == lr


# ---------------------------------------------------------------------------
# SubsetSchedule
# ---------------------------------------------------------------------------
class RecordingRun:
    """A run that records the calls and holds something unpicklable."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def begin_epoch(self, net):
        self.calls.append(("begin", len(net.history)))

    def end_batch(self, net):
        self.calls.append(("batch", len(net.history)))

    def end_epoch(self, net):
        self.calls.append(("end", len(net.history)))


def test_subset_schedule_pickles_without_its_run():
    run = RecordingRun()
    with pytest.raises(TypeError):
        pickle.dumps(run)  # the run itself cannot be pickled
    cb = SubsetSchedule(run)
    loaded = pickle.loads(pickle.dumps(cb))
    assert loaded.run is None
    assert cb.run is run  # the original keeps its run
    assert copy.deepcopy(cb).run is None


def test_subset_schedule_drives_the_run(toy_net_factory, toy_data):
    run = RecordingRun()
    X, y = toy_data(n=20)
    net = toy_net_factory(criterion=torch.nn.CrossEntropyLoss, max_epochs=3, batch_size=8,
                          callbacks=[("subset", SubsetSchedule(run))])
    net.fit(X, y)  # 20 rows: 3 training mini-batches an epoch (no train split)
    assert run.calls == [call for e in (1, 2, 3) for call in
                         [("begin", e), ("batch", e), ("batch", e), ("batch", e), ("end", e)]]
    # the fitted net pickles although its callback is armed with an unpicklable run
    net2 = pickle.loads(pickle.dumps(net))
    assert dict(net2.callbacks_)["subset"].run is None
    np.testing.assert_allclose(net2.predict_proba(X), net.predict_proba(X))


def test_subset_schedule_disarmed_is_inert(toy_net_factory, toy_data):
    X, y = toy_data(n=20)
    cb = SubsetSchedule()
    net = toy_net_factory(criterion=torch.nn.CrossEntropyLoss, callbacks=[("subset", cb)])
    net.fit(X, y)  # no error without a run
    assert len(net.history) == 1
