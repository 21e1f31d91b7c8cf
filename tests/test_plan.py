"""Experiment settings and the list of runs: defaults, run identity, early-stop and frontier E."""

import os

import pytest
import torch
from skorch import NeuralNetClassifier

from sksubset import SubsetTrainingClassifier
from sksubset.experiments import ExperimentConfig
from sksubset.experiments.models import MLP
from sksubset.experiments.plan import (
    WEIGHTINGS,
    default_frontier_epochs,
    earlystop_epochs,
    plan_runs,
    pool_size,
)

TINY = dict(dataset="digits", epochs=4, batch_size=64, R=2, seeds=1, budgets=(0.3,),
            frontier_epochs=(1, 3), quiet=True, device="cpu", threads=1)


def test_earlystop_and_frontier_epochs():
    cfg = ExperimentConfig(epochs=100, budgets=(0.05, 0.1, 0.3), R=20, kappa=0.5).resolved()
    # GRAD-MATCH-PB-WARM at 0.1 of 1000: 5 warm + 50 * 0.1 = 10 full epochs
    assert earlystop_epochs(cfg, 0.1, 1000) == 10
    epochs = default_frontier_epochs(cfg, 1000)
    assert 4 <= len(epochs) <= 5 and epochs[0] == 5 and epochs[-1] == 60  # 2 * (15 + 15)
    plan = plan_runs(ExperimentConfig(**{**TINY, "budgets": (0.1, 0.3)},
                                      strategies=("full-earlystop",)).resolved(), 1257)
    assert [(s.budget, s.epochs) for s in plan] == [(0.1, 1), (0.3, 2)]


def test_pool_size_leaves_out_the_hold_out():
    assert pool_size(1000, None) == 1000
    assert pool_size(1000, 0.1) == 900 and pool_size(1001, 0.1) == 900  # ceil of the share
    assert pool_size(1000, 50) == 950


def test_runs_and_their_identity():
    cfg = ExperimentConfig(**{**TINY, "seeds": 2},
                           strategies=("full", "full-frontier", "random-warm")).resolved()
    specs = plan_runs(cfg, 1257)
    assert [(s.strategy.name, s.budget, s.epochs, s.seed) for s in specs] == [
        ("full", None, 4, 0), ("full", None, 4, 1), ("full-frontier", None, 1, 0),
        ("full-frontier", None, 1, 1), ("full-frontier", None, 3, 0),
        ("full-frontier", None, 3, 1), ("random-warm", 0.3, None, 0),
        ("random-warm", 0.3, None, 1)]
    assert len({s.run_id for s in specs}) == len(specs)
    warm = specs[-1].settings
    assert (warm["R"], warm["kappa"], warm["valid_size"], warm["weighting"]) == (2, 0.5, None,
                                                                                 "batch")
    assert "kappa" not in specs[0].settings
    # a variant: its tag joins the name and changes the identity
    tagged = plan_runs(ExperimentConfig(**TINY, strategies=("random-warm",), tag="x",
                                        selector_params={"sampling": "cycle"}).resolved(), 1257)
    assert tagged[0].name == "random-warm+x" and tagged[0].run_id.startswith("random-warm+x_")
    assert tagged[0].settings["selector_params"] == {"sampling": "cycle"}
    assert tagged[0].run_id != specs[-2].run_id


def test_cuda_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        ExperimentConfig(device="cuda").resolved()
    assert ExperimentConfig(device="auto").resolved().device == "cpu"


def test_defaults_per_dataset():
    assert ExperimentConfig().resolved().out == os.path.join("results", "digits")
    cfg = ExperimentConfig(dataset="fashion-mnist").resolved()
    assert (cfg.model, cfg.epochs, cfg.batch_size, cfg.augment) == ("lenet5", 200, 20, False)
    cfg = ExperimentConfig(dataset="cifar10").resolved()
    assert (cfg.model, cfg.epochs, cfg.augment) == ("resnet18", 300, True)
    assert ExperimentConfig(dataset="cifar10", augment=False).resolved().augment is False
    with pytest.raises(ValueError, match="--augment"):
        ExperimentConfig(dataset="digits", augment=True).resolved()
    with pytest.raises(ValueError, match="clock must be"):
        ExperimentConfig(clock="gpu").resolved()
    cfg = ExperimentConfig(**TINY).resolved()
    assert "augment" not in plan_runs(cfg, 100)[0].settings  # earlier run ids unchanged
    assert cfg.lr == 0.01 and ExperimentConfig(**TINY, lr=0.2).resolved().lr == 0.2


def test_mnist1d_defaults_and_identity():
    cfg = ExperimentConfig(dataset="mnist1d").resolved()
    assert (cfg.model, cfg.epochs, cfg.batch_size, cfg.threads, cfg.lr) == (
        "cnn1d", 30, 32, 1, 0.05)
    assert ExperimentConfig(dataset="mnist1d", lr=0.01).resolved().lr == 0.01
    with pytest.raises(ValueError, match="--augment"):
        ExperimentConfig(dataset="mnist1d", augment=True).resolved()
    # where the generated arrays are kept is not part of a run's identity
    ids = [plan_runs(ExperimentConfig(dataset="mnist1d", data_dir=d, strategies=("full",),
                                      seeds=1).resolved(), 48000)[0].run_id
           for d in (None, "/somewhere")]
    assert ids[0] == ids[1]


def test_weightings_are_the_classifiers():
    net = NeuralNetClassifier(MLP, module__n_features=4, module__n_classes=2)
    for weighting in WEIGHTINGS:
        SubsetTrainingClassifier(net, weighting=weighting)._validate_params()
    with pytest.raises(ValueError, match="weighting"):
        SubsetTrainingClassifier(net, weighting="bogus")._validate_params()
