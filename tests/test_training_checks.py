"""Tests of :mod:`sksubset._training._checks`: bad inputs fail with a named error before
training, the seeded module, and what a run warns about or stops on."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.history import History
from torch import nn

from sksubset import GradMatchSelector, SubsetTrainingClassifier
from sksubset._training._checks import (
    divergence_error,
    position,
    reseed_module,
    warn_if_below_one_batch,
    warn_if_unconverged,
)
from sksubset.exceptions import DivergenceError
from sksubset.schedule import make_schedule
from sksubset.selectors import CraigSelector, GlisterSelector, RandomSelector

pytestmark = pytest.mark.usefixtures("one_thread")


class NoTraining(Callback):
    """Fails the test if an epoch starts: the errors must come before any training."""

    def on_epoch_begin(self, net, **kwargs):
        raise AssertionError("training started before the bad input was reported")


def mlp(n_out=3, n_in=6):
    return nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, n_out))


def make_net(module=None, **kwargs):
    params = dict(module=mlp() if module is None else module,
                  criterion=nn.CrossEntropyLoss, max_epochs=4, lr=0.1, batch_size=5,
                  train_split=None, verbose=0)  # a 10% subset of 60 rows: more than a batch
    params.update(kwargs)
    return NeuralNetClassifier(**params)


# (classifier parameters, net module, X transform, error class, message fragment)
BAD_INPUTS = [
    ({"selector": GradMatchSelector(criterion="foo")}, None, None, ValueError, "'criterion'"),
    ({"selector": GradMatchSelector(lam=-5)}, None, None, ValueError, "'lam'"),
    ({"selector": GradMatchSelector(device="tpu")}, None, None, ValueError, "device='tpu'"),
    ({"selector": GradMatchSelector(per_class=False, per_gradient=True)}, None, None, ValueError,
     "per_gradient=True requires per_class=True"),
    ({"selector": CraigSelector(metric="manhattan")}, None, None, ValueError, "'metric'"),
    ({"selector": GlisterSelector(eta=0)}, None, None, ValueError, "'eta'"),
    ({"budget": True}, None, None, TypeError, "boolean"),
    ({"budget": False}, None, None, ValueError, "'budget'"),
    ({"budget": 0}, None, None, ValueError, "'budget'"),
    ({"budget": 61}, None, None, ValueError, "budget=61 is larger than the number of samples"),
    ({"per_batch": True, "selector": "glister"}, None, None, ValueError,
     "selector=GlisterSelector has none"),
    ({"per_batch": True, "selector": "crest"}, None, None, ValueError, "has none"),
    ({"per_batch": True, "selector": RandomSelector()}, None, None, ValueError,
     "selector=RandomSelector has none"),
    ({"selector": GradMatchSelector(budget=0.5)}, None, None, ValueError,
     r"selector's budget=0.5 would be overridden.*SubsetTrainingClassifier\(budget=...\)"),
    ({"selector": RandomSelector(random_state=3)}, None, None, ValueError,
     r"selector's random_state=3 would be overridden.*default \(None\)"),
    ({"selector": CraigSelector(budget=10)}, None, None, ValueError, "selector's budget=10"),
    ({}, mlp(n_out=5), None, ValueError, r"one column per class, \(n_samples, 3\).*\(2, 5\)"),
    ({}, mlp(n_out=2), None, ValueError, r"one column per class.*\(2, 2\)"),
    ({}, mlp(), lambda X: X.reshape(60, 2, 3), ValueError,
     r"net.module does not accept X of shape \(60, 2, 3\)"),
    ({}, mlp(n_in=7), None, ValueError, r"does not accept X of shape \(60, 6\)"),
]
if not torch.cuda.is_available():
    BAD_INPUTS.append(({"selector": GradMatchSelector(device="cuda")}, None, None, ValueError,
                       "CUDA is not available"))


@pytest.mark.parametrize("params,module,transform,error,match", BAD_INPUTS)
def test_bad_input_fails_before_training(toy_data, params, module, transform, error, match):
    X, y = toy_data(n=60)
    X = X if transform is None else transform(X)
    net = make_net(module, callbacks=[("no_training", NoTraining())])
    clf = SubsetTrainingClassifier(net, **{"R": 1, "verbose": 0, **params})
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_integer_budget_is_a_count(toy_data):
    X, y = toy_data(n=60)
    clf = SubsetTrainingClassifier(make_net(), budget=12, R=1, random_state=0, verbose=0)
    clf.fit(X, y)
    assert clf.subset_size_ == 12
    assert all(len(h["indices"]) == 12 for h in clf.selection_history_)
    assert SubsetTrainingClassifier(make_net(), budget=1.0, R=1, verbose=0).fit(
        X, y).subset_size_ == 60  # 1.0 is everything, 1 would be one example


def test_every_class_gets_a_slot(toy_data):
    X, y = toy_data(n=80)
    y = y.copy()
    y[np.flatnonzero(y == 2)[2:]] = 0  # class 2 keeps 2 of 80 examples
    clf = SubsetTrainingClassifier(make_net(max_epochs=6), budget=0.1, R=1, kappa=0.0,
                                   random_state=0, verbose=0).fit(X, y)
    assert clf.subset_size_ == 8  # a quota of 0.2 rounds down to 0 without the rule
    for h in clf.selection_history_:
        assert set(y[h["indices"]]) == {0, 1, 2}


# -- reproducibility of the documented usage (module given as an instance) -------
def test_module_instances_built_apart_give_the_same_run(toy_data):
    X, y = toy_data(n=60)
    runs = []
    for seed in (1, 2):  # two instances with different weights
        torch.manual_seed(seed)
        clf = SubsetTrainingClassifier(make_net(mlp()), budget=0.2, R=1, random_state=0,
                                       verbose=0).fit(X, y)
        runs.append(clf)
    a, b = runs
    for ha, hb in zip(a.selection_history_, b.selection_history_):
        np.testing.assert_array_equal(ha["indices"], hb["indices"])
        np.testing.assert_array_equal(ha["weights"], hb["weights"])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np, torch
    from skorch import NeuralNetClassifier
    from sklearn.datasets import load_digits
    from sksubset import SubsetTrainingClassifier
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16).astype(np.float32), y[:300]
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                 torch.nn.Dropout(0.2), torch.nn.Linear(32, 10))
    net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=6,
                              lr=0.05, batch_size=32, train_split=None, verbose=0)
    clf = SubsetTrainingClassifier(net, budget=0.2, R=1, random_state=0, verbose=0)
    clf.fit(X, y)
    print(json.dumps({"indices": [h["indices"].tolist() for h in clf.selection_history_],
                      "weights": [h["weights"].tolist() for h in clf.selection_history_],
                      "proba": clf.predict_proba(X[:20]).tolist()}))
""")


def test_documented_usage_reproduces_across_processes():
    """The class docstring's usage (module instance, no torch seed) in two processes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
         os.environ.get("PYTHONPATH", "")])}
    outs = []
    for seed in ("1", "2"):  # different hash seeds too
        env["PYTHONHASHSEED"] = seed
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True,
                             capture_output=True, text=True, timeout=300).stdout
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert len(outs[0]["indices"]) >= 2
    assert outs[0] == outs[1]


def test_reseed_gives_the_weights_of_a_module_built_under_the_seed():
    torch.manual_seed(7)
    net = make_net(mlp()).initialize()
    torch.manual_seed(0)
    reseed_module(net)
    torch.manual_seed(0)
    fresh = mlp()
    for p, q in zip(net.module_.parameters(), fresh.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_reseed_leaves_modules_skorch_built_alone():
    net = NeuralNetClassifier(nn.Linear, module__in_features=6, module__out_features=3,
                              criterion=nn.CrossEntropyLoss).initialize()
    before = [p.clone() for p in net.module_.parameters()]
    reseed_module(net)
    for p, q in zip(before, net.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = mlp()
        self.scale = nn.Parameter(torch.rand(1))  # no reset_parameters owns it

    def forward(self, X):
        return self.body(X * self.scale)


def test_reseed_warns_about_parameters_it_cannot_redraw(toy_data):
    X, y = toy_data(n=60)
    clf = SubsetTrainingClassifier(make_net(Scaled(), max_epochs=2), R=1, random_state=0,
                                   verbose=0)
    with pytest.warns(UserWarning, match=r"cannot re-draw the parameters \['scale'\]"):
        clf.fit(X, y)


# -- what a run warns about or stops on ------------------------------------------------
@pytest.mark.parametrize("k,n,batch_size,warns", [
    (126, 1257, 128, True), (128, 1257, 128, True), (129, 1257, 128, False),
    (0, 1257, 128, False), (100, 100, 128, False),  # the whole data in one batch: no subset
])
def test_below_one_batch(k, n, batch_size, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_below_one_batch(k, n, batch_size)
    assert len(caught) == warns
    if warns:
        assert f"batch_size={batch_size}" in str(caught[0].message)


def test_divergence_error_names_where_what_and_the_remedies():
    err = divergence_error("epoch 3 of 9 (warm start on all the data)", "the loss became nan.",
                           0.5)
    assert isinstance(err, DivergenceError) and isinstance(err, FloatingPointError)
    assert str(err) == ("Training diverged in epoch 3 of 9 (warm start on all the data): the "
                        "loss became nan. Try a smaller learning rate (net lr=0.5).")
    assert "smaller scale" not in str(divergence_error("x", "y", 0.5, torch.ones(3, 2)))
    big = divergence_error("x", "y", 0.5, torch.tensor([[1.0, -3e12]]))
    assert str(big).endswith("or inputs on a smaller scale (the largest |X| is 3e+12).")
    assert "smaller scale" not in str(divergence_error("x", "y", 0.5, torch.empty(0, 2)))


def _history(first_batch, last_epoch):
    h = History()
    h.new_epoch()
    h.new_batch()
    h.record_batch("train_loss", first_batch)
    h.record("train_loss", first_batch)
    h.new_epoch()
    h.record("train_loss", last_epoch)
    return h


def test_unconverged_warns_above_twice_the_start():
    with pytest.warns(ConvergenceWarning, match=r"ended at 4.61 after 2 epochs, more than "
                                                r"twice its start \(2.3\)"):
        warn_if_unconverged(_history(2.3, 4.61), 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warn_if_unconverged(_history(2.3, 4.6), 0.1)
        warn_if_unconverged(_history(2.3, 0.2), 0.1)


def test_position_names_the_epoch_the_phase_and_the_round():
    schedule = make_schedule(10, 2, 10, R=2, kappa=0.5)  # 1 warm epoch, 5 subset epochs
    assert position(schedule, 0, 0) == "epoch 1 of 6 (warm start on all the data)"
    assert position(schedule, 3, 2) == "epoch 4 of 6 (subset training, selection round 2)"
