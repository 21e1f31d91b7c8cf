"""skorch's own options of the net given to an estimator: each works as in a plain skorch fit,
or is refused before training with a message naming it and what to write instead."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    LRScheduler,
)
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split
from torch import nn

from sksubset import SubsetTrainingClassifier, SubsetTrainingRegressor
from sksubset._training._options import check_net_options
from sksubset.selectors import RandomSelector

pytestmark = pytest.mark.usefixtures("one_thread")


class NoTraining(Callback):
    """Fails the test if an epoch starts: a refused option must be reported before training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("training started before the option was refused")


class SeesValid(RandomSelector):
    """Random subsets, recording whether each round was given validation data to match."""

    seen = []

    def select(self, context):
        SeesValid.seen.append(context.valid_fn is not None)
        return super().select(context)


def mlp(n_out=3):
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, n_out))


def clf(refused=False, selector="random", valid_size=None, **kwargs):
    params = dict(module=mlp(), criterion=nn.CrossEntropyLoss, max_epochs=3, lr=0.05,
                  batch_size=8, train_split=None, verbose=0)
    params.update(kwargs)
    if refused:
        params["callbacks"] = list(params.get("callbacks") or []) + [NoTraining()]
    return SubsetTrainingClassifier(NeuralNetClassifier(**params), selector=selector,
                                    budget=0.5, R=1, valid_size=valid_size, random_state=0,
                                    verbose=0)


def reg(refused=False, **kwargs):
    params = dict(module=mlp(1), max_epochs=3, lr=0.05, batch_size=8, train_split=None,
                  verbose=0)
    params.update(kwargs)
    if refused:
        params["callbacks"] = [NoTraining()]
    return SubsetTrainingRegressor(NeuralNetRegressor(**params), budget=0.5, R=1,
                                   random_state=0, verbose=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 5)).astype(np.float32)
    y = np.arange(48) % 3
    X[:, 0] += y
    return X, y, (X[:, 0] - X[:, 1]).astype(np.float32)


def _refused(est, X, y, match, error=ValueError):
    with pytest.raises(error, match=match):
        est.fit(X, y)
    assert not hasattr(est, "net_")


# -- train_split ----------------------------------------------------------------------
def test_no_train_split_trains_on_everything(data):
    X, y, _ = data
    est = clf(train_split=None).fit(X, y)
    assert est.subset_size_ == 24 and "valid_loss" not in est.net_.history[-1]


def test_valid_split_monitors_only(data):
    X, y, _ = data
    SeesValid.seen = []
    est = clf(selector=SeesValid(), train_split=ValidSplit(4, stratified=True)).fit(X, y)
    assert est.subset_size_ == 18  # half of the 36 training rows
    assert np.isfinite(est.net_.history[:, "valid_loss"]).all()
    assert SeesValid.seen and not any(SeesValid.seen)  # the selections match the training data
    SeesValid.seen = []
    clf(selector=SeesValid(), valid_size=12).fit(X, y)
    assert SeesValid.seen and all(SeesValid.seen)  # valid_size: the hold-out is matched


def test_valid_split_of_a_regressor(data):
    X, _, t = data
    est = reg(train_split=ValidSplit(4)).fit(X, t)
    assert est.subset_size_ == 18 and np.isfinite(est.net_.history[:, "valid_loss"]).all()
    _refused(reg(refused=True, train_split=ValidSplit(4, stratified=True)), X, t,
             r"net.train_split \(ValidSplit\) failed.*stratified=False")


@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_predefined_split_validates_on_its_dataset(data, labels):
    X, y, _ = data
    names = np.array(["ant", "bee", "cat"])
    y_fit = names[y] if labels == "strings" else y + 10
    X_val, y_val = X[:9] + 0.5, y[:9]
    ds = Dataset(X_val.astype(np.float64), names[y_val] if labels == "strings" else y_val + 10)
    est = clf(train_split=predefined_split(ds)).fit(X, y_fit)
    assert est.subset_size_ == 24  # every row trains
    logits = est.net_.forward(torch.as_tensor(X_val))
    expected = nn.functional.cross_entropy(logits, torch.as_tensor(y_val)).item()
    assert est.net_.history[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)


def test_predefined_split_of_a_regressor(data):
    X, _, t = data
    est = reg(train_split=predefined_split(Dataset(X[:9], t[:9]))).fit(X, t)
    pred = est.net_.forward(torch.as_tensor(X[:9]))
    expected = nn.functional.mse_loss(pred, torch.as_tensor(t[:9]).reshape(-1, 1)).item()
    assert est.net_.history[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)


def test_predefined_split_with_a_foreign_label_is_refused(data):
    X, y, _ = data
    ds = Dataset(X[:6], np.array([0, 1, 2, 0, 1, 7]))
    _refused(clf(refused=True, train_split=predefined_split(ds)), X, y,
             r"validation dataset of net.train_split \(predefined_split\) holds the label 7")


def test_a_train_split_of_another_shape_is_refused(data):
    X, y, _ = data

    def own_split(dataset, y=None):
        return dataset, None, None

    def copies(dataset, y=None):
        return Dataset(X, y), Dataset(X[:4], y[:4])

    _refused(clf(refused=True, train_split=own_split), X, y,
             r"net.train_split must return \(training part, validation part\)", TypeError)
    _refused(clf(refused=True, train_split=copies), X, y,
             r"net.train_split must return two torch Subsets.*\(Dataset, Dataset\).*valid_size",
             TypeError)


# -- callbacks ------------------------------------------------------------------------
def test_checkpoint(data, tmp_path):
    X, y, _ = data
    cp = Checkpoint(dirname=str(tmp_path), monitor="train_loss_best")
    est = clf(callbacks=[cp]).fit(X, y)
    assert (tmp_path / "params.pt").exists()
    assert est.net_.history[:, "event_cp"].count(True) >= 1
    fresh = clf(callbacks=[Checkpoint(dirname=str(tmp_path))]).net.initialize()
    fresh.load_params(checkpoint=Checkpoint(dirname=str(tmp_path)))
    best = max(i for i, saved in enumerate(est.net_.history[:, "event_cp"]) if saved)
    if best == len(est.net_.history) - 1:  # the last epoch was the best: the same weights
        for a, b in zip(fresh.module_.parameters(), est.net_.module_.parameters()):
            torch.testing.assert_close(a, b)
    est = clf(callbacks=[Checkpoint(dirname=str(tmp_path / "v"))], valid_size=12).fit(X, y)
    assert (tmp_path / "v" / "params.pt").exists()  # its default monitor, valid_loss_best
    _refused(clf(refused=True, callbacks=[Checkpoint(dirname=str(tmp_path))]), X, y,
             r"Checkpoint monitors 'valid_loss_best', but the net has no validation data.*"
             r"monitor='train_loss_best'")


def test_early_stopping(data):
    X, y, _ = data
    # the first epoch improves on nothing; with this threshold, none after it improves
    stop = EarlyStopping(monitor="train_loss", patience=2, threshold=10.0)
    est = clf(callbacks=[stop], max_epochs=10).fit(X, y)
    assert est.n_iter_ == 3 == len(est.net_.history)
    est = clf(callbacks=[EarlyStopping(patience=1, threshold=10.0)], max_epochs=10,
              valid_size=12).fit(X, y)
    assert est.n_iter_ == 2
    _refused(clf(refused=True, callbacks=[EarlyStopping()]), X, y,
             r"EarlyStopping monitors 'valid_loss'.*no validation data.*valid_size=0.1.*"
             r"monitor='train_loss'")


def test_lr_scheduler_per_epoch_and_per_batch(data):
    X, y, _ = data
    step = LRScheduler("StepLR", step_size=1, gamma=0.5)
    est = clf(callbacks=[("lr", step)], max_epochs=4).fit(X, y)
    # epoch-stepped: advanced through every epoch of budget, the skipped ones included
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5 ** 4)
    cyclic = LRScheduler("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=3,
                         step_every="batch")
    est = clf(callbacks=[("lr", cyclic)]).fit(X, y)
    n_batches = sum(len(est.net_.history[e, "batches"]) for e in range(len(est.net_.history)))
    assert dict(est.net_.callbacks_)["lr"].lr_scheduler_.last_epoch == n_batches


def test_scoring_the_validation_data_and_not_the_training_data(data):
    X, y, _ = data
    est = clf(callbacks=[EpochScoring("accuracy", name="val_acc", lower_is_better=False)],
              valid_size=12).fit(X, y)
    assert all(0 <= a <= 1 for a in est.net_.history[:, "val_acc"])
    _refused(clf(refused=True, callbacks=[EpochScoring("accuracy", on_train=True)]), X, y,
             r"EpochScoring scores the training data \(on_train=True\).*on_train=False")


def test_callbacks_disable_is_refused(data):
    X, y, _ = data
    est = clf(callbacks="disable")
    _refused(est, X, y, r"net.callbacks='disable' would disable the callback that runs subset "
                        r"training.*callbacks=None")


# -- iterators, dataset, warm_start, device, compile -----------------------------------
def test_iterator_train_shuffle_and_workers(data):
    X, y, _ = data
    runs = [clf(iterator_train__shuffle=True, iterator_train__num_workers=0).fit(X, y)
            for _ in range(2)]
    for a, b in zip(runs[0].net_.module_.parameters(), runs[1].net_.module_.parameters()):
        torch.testing.assert_close(a, b)  # the seeded shuffle is the same
    plain = clf(iterator_train__shuffle=False).fit(X, y)
    assert any(not torch.equal(a, b) for a, b in zip(runs[0].net_.module_.parameters(),
                                                    plain.net_.module_.parameters()))


def test_dataset(data):
    X, y, _ = data
    assert clf(dataset=Dataset).fit(X, y).n_iter_ == 3  # skorch's own: the default

    class Own(Dataset):
        pass

    _refused(clf(refused=True, dataset=Own), X, y,
             r"net.dataset=.*Own.*ignored for training.*torch Dataset of \(x, y\) items")


def test_warm_start_is_refused(data):
    X, y, _ = data
    _refused(clf(refused=True, warm_start=True), X, y,
             r"net.warm_start=True.*fresh clone.*net__warm_start=False")
    assert clf(warm_start=False).fit(X, y).n_iter_ == 3


def test_device(data):
    X, y, _ = data
    assert clf(device="cpu").fit(X, y).net_.device == "cpu"
    assert clf(device=torch.device("cpu")).fit(X, y).n_iter_ == 3
    _refused(clf(refused=True, device=None), X, y, r"net.device=None.*net__device='cpu'")
    _refused(clf(refused=True, device="tpu"), X, y, r"net.device='tpu' is not a torch device")
    if not torch.cuda.is_available():
        _refused(clf(refused=True, device="cuda"), X, y,
                 r"net.device='cuda' but CUDA is not available")

    class Accelerated(NeuralNetClassifier):
        accelerator = object()  # skorch's AccelerateMixin: its accelerator places the net

    check_net_options(Accelerated(mlp(), device=None), None)  # accepted


def test_compile_is_refused(data):
    X, y, _ = data
    _refused(clf(refused=True, compile=True), X, y, r"net.compile=True.*net__compile=False")
