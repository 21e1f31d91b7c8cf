"""Tests of :mod:`sksubset._training._skorch` (the callback and the skipped LR epochs)."""

import copy
import math
import pickle
import threading

import numpy as np
import pytest
import torch
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from sksubset._training._skorch import SubsetSchedule, skip_lr_epochs


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

    def begin_batch(self, net):
        self.calls.append(("batch_begin", len(net.history)))

    def end_batch(self, net, batch):
        assert len(batch) == 2 and len(batch[0]) == len(batch[1])  # (X, y) as loaded
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
    batch = [[("batch_begin", e), ("batch", e)] for e in (1, 2, 3)]
    assert run.calls == [call for e in (1, 2, 3) for call in
                         [("begin", e)] + batch[e - 1] * 3 + [("end", e)]]
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
