"""Experiment runner: strategy names, planning, training records, resumability, CLI."""

import json
import math
import os
import sys

import numpy as np
import pytest
import torch

from sksubset.experiments import ExperimentConfig, run_experiment, runner
from sksubset.experiments.__main__ import build_parser, config_from_args, main
from sksubset.experiments.models import (
    LeNet5,
    ResNet18,
    SmallResNet,
    make_net,
    module_kwargs,
)
from sksubset.experiments.plan import (
    default_frontier_epochs,
    earlystop_epochs,
    parse_strategy,
    plan_runs,
)
from sksubset.experiments.runner import _selector
from sksubset.selectors import RandomSelector

TINY = dict(dataset="digits", epochs=4, batch_size=64, R=2, seeds=1, budgets=(0.3,),
            frontier_epochs=(1, 3), quiet=True, device="cpu", threads=1)


def cosine(E):
    return [0.01 * (1 + math.cos(math.pi * e / E)) / 2 for e in range(E)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    argv = ["--epochs", "4", "--batch-size", "64", "--R", "2", "--seeds", "1", "--budgets",
            "0.3", "--frontier-epochs", "1", "3", "--strategies", "full", "full-frontier",
            "gradmatch-pb-warm", "--device", "cpu", "--threads", "1", "--quiet",
            "--out", str(out)]
    assert main(argv) == 0
    return out


def test_end_to_end_outputs(tiny_run, capsys):
    for name in ("summary.csv", "summary.json", "speedup_vs_relative_error.png",
                 "accuracy_vs_time.png"):
        assert (tiny_run / name).stat().st_size > 0
    runs = sorted(os.listdir(tiny_run / "runs"))
    assert len(runs) == 4 and all(r.endswith(".json") for r in runs)
    rows = json.loads((tiny_run / "summary.json").read_text())
    assert [(r["strategy"], r["epochs"]) for r in rows] == [
        ("full", 4), ("full-frontier", 1), ("full-frontier", 3), ("gradmatch-pb-warm", None)]
    gm = rows[-1]
    assert gm["budget"] == 0.3 and 0 < gm["accuracy_mean"] <= 1 and gm["speedup"] > 0
    assert 0 <= gm["selection_share"] < 1


def test_run_records(tiny_run):
    recs = [json.loads(p.read_text()) for p in (tiny_run / "runs").iterdir()]
    gm = next(r for r in recs if r["strategy"] == "gradmatch-pb-warm")
    # T=4, kappa=0.5: 1 warm epoch, 1 skipped, 2 subset epochs with one selection (R=2)
    assert gm["epochs_trained"] == 3 and gm["n_selections"] == 1
    (sel,) = gm["selections"]
    assert sel["reason"] == "first" and sel["omp_rounds"] >= 1
    assert sel["solver_seconds"] > 0 and 0 <= sel["gradient_error"] < 1
    assert gm["settings"]["kappa"] == 0.5 and gm["energy_kwh"] is None
    assert gm["full_epoch_equivalents"] == pytest.approx(1 + 2 * gm["subset_size"] / 1257)
    assert set(gm["timing"]) >= {"warm_start", "gradients", "solver", "subset_training", "total"}
    assert gm["fit_seconds"] >= gm["timing"]["total"] * 0.5
    full = next(r for r in recs if r["strategy"] == "full")
    assert full["learning_rates"] == pytest.approx(cosine(4))


def test_frontier_compresses_cosine(tiny_run):
    recs = [json.loads(p.read_text()) for p in (tiny_run / "runs").iterdir()]
    for rec in recs:
        if rec["strategy"] == "full-frontier":
            E = rec["epochs"]
            assert rec["epochs_trained"] == E
            assert rec["learning_rates"] == pytest.approx(cosine(E))


def test_resume_trains_nothing(tiny_run, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner, "train_run", fail)
    strategies = ("full", "full-frontier", "gradmatch-pb-warm")
    result = run_experiment(ExperimentConfig(**TINY, strategies=strategies, out=str(tiny_run)))
    assert len(result["records"]) == 4
    # changed settings are new runs
    with pytest.raises(AssertionError, match="trained again"):
        run_experiment(ExperimentConfig(**{**TINY, "lr": 0.02}, strategies=("full",),
                                        out=str(tiny_run)))


def test_parse_strategy():
    s = parse_strategy("gradmatch")
    assert (s.selector, s.per_batch, s.per_class, s.warm) == ("gradmatch", False, True, False)
    assert parse_strategy("gradmatch-pc-warm") == parse_strategy("gradmatch-pc-warm")
    s = parse_strategy("gradmatch-pb-warm")
    assert (s.per_batch, s.per_class, s.warm) == (True, False, True)
    s = parse_strategy("craig-pb-warm")
    assert (s.selector, s.per_batch, s.warm) == ("craig", True, True)
    assert parse_strategy("full-frontier").kind == "full-frontier"
    s = parse_strategy("random-rs2")
    assert (s.selector, s.rs2, s.warm, s.per_class) == ("random", True, False, False)
    assert parse_strategy("random-rs2-warm").warm and not parse_strategy("random-warm").rs2
    for bad in ("bogus", "gradmatch-xx", "full-warm", "random-pb-pc", "gradmatch-rs2"):
        with pytest.raises(ValueError, match="Unknown strategy"):
            parse_strategy(bad)


def test_rs2_reselects_every_epoch_unless_R_is_given():
    cfg = ExperimentConfig(**{**TINY, "budgets": (0.1,), "R": None},
                           strategies=("random-rs2", "random")).resolved()
    assert [s.settings["R"] for s in plan_runs(cfg, 1257)] == [1, 20]
    cfg = ExperimentConfig(**{**TINY, "budgets": (0.1,), "R": 5},
                           strategies=("random-rs2", "random")).resolved()
    assert {s.settings["R"] for s in plan_runs(cfg, 1257)} == {5}
    sel = _selector(parse_strategy("random-rs2"), None)
    assert isinstance(sel, RandomSelector) and sel.sampling == "cycle"
    assert _selector(parse_strategy("random"), None) == "random"


def test_earlystop_and_frontier_epochs():
    cfg = ExperimentConfig(epochs=100, budgets=(0.05, 0.1, 0.3), R=20, kappa=0.5).resolved()
    # GRAD-MATCH-PB-WARM at 0.1 of 1000: 5 warm + 50 * 0.1 = 10 full epochs
    assert earlystop_epochs(cfg, 0.1, 1000) == 10
    epochs = default_frontier_epochs(cfg, 1000)
    assert 4 <= len(epochs) <= 5 and epochs[0] == 5 and epochs[-1] == 60  # 2 * (15 + 15)
    plan = plan_runs(ExperimentConfig(**{**TINY, "budgets": (0.1, 0.3)},
                                      strategies=("full-earlystop",)).resolved(), 1257)
    assert [(s.budget, s.epochs) for s in plan] == [(0.1, 1), (0.3, 2)]


def test_cli_parsing(monkeypatch):
    monkeypatch.setenv("OUT", "/tmp/somewhere")  # a generic variable: never the output folder
    args = build_parser().parse_args([])
    cfg = config_from_args(args).resolved()
    assert (cfg.dataset, cfg.model, cfg.epochs, cfg.batch_size, cfg.seeds) == (
        "digits", "mlp", 60, 32, 3)
    assert cfg.budgets == (0.05, 0.1, 0.3) and cfg.R is None and cfg.kappa == 0.5
    assert cfg.lr == 0.01 and cfg.out == os.path.join("results", "digits")
    assert "full" in cfg.strategies and "gradmatch-pb-warm" in cfg.strategies
    args = build_parser().parse_args(["--dataset", "fashion-mnist", "--valid-size", "0.1",
                                      "--budgets", "0.2", "--strategies", "full", "random"])
    cfg = config_from_args(args).resolved()
    assert cfg.model == "lenet5" and cfg.valid_size == 0.1 and cfg.budgets == (0.2,)
    assert cfg.strategies == ("full", "random")
    assert ExperimentConfig().resolved().out == os.path.join("results", "digits")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--budgets", "1.5"])
    with pytest.raises(SystemExit):
        main(["--strategies", "nonsense"])


def test_usage_line_names_the_command(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/site-packages/sksubset/experiments/__main__.py"])
    assert build_parser().format_usage().startswith("usage: python -m sksubset.experiments ")
    monkeypatch.setattr(sys, "argv", ["/venv/bin/sksubset-bench"])
    assert build_parser().format_usage().startswith("usage: sksubset-bench ")


def test_cli_data_errors(tmp_path, capsys):
    assert main(["--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--quiet"]) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err
    np.savez(tmp_path / "d.npz", X_train=np.zeros((2, 2)))
    assert main(["--dataset", "npz", "--data-dir", str(tmp_path / "d.npz"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "y_train" in err and "X_test" in err and "y_test" in err


def test_models():
    kw = module_kwargs("lenet5", np.zeros((2, 1, 28, 28), np.float32), 10)
    assert kw == {"n_classes": 10, "in_channels": 1, "image_size": 28}
    net = LeNet5(**kw)
    assert net.classifier[0].in_features == 400
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert net(torch.zeros(2, 784)).shape == (2, 10)
    assert module_kwargs("lenet5", np.zeros((2, 784)), 10)["image_size"] == 28
    with pytest.raises(ValueError, match="square"):
        module_kwargs("lenet5", np.zeros((2, 64 + 1)), 10)
    net = make_net("mlp", {"n_features": 64, "n_classes": 10}, epochs=7, batch_size=32)
    params = net.get_params()
    assert params["optimizer__momentum"] == 0.9 and params["optimizer__weight_decay"] == 5e-4
    assert params["optimizer__nesterov"] is False and params["train_split"] is None
    assert params["lr"] == 0.01 and params["criterion"] is torch.nn.CrossEntropyLoss
    assert dict(params["callbacks"])["lr_scheduler"].kwargs["T_max"] == 7


def test_cuda_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device"):
        ExperimentConfig(device="cuda").resolved()
    assert ExperimentConfig(device="auto").resolved().device == "cpu"


def test_report_only_summarizes_runs_of_several_invocations(tmp_path, monkeypatch):
    out = str(tmp_path)
    base = dict(TINY, seeds=1, out=out, quiet=True)
    run_experiment(ExperimentConfig(**{**base, "budgets": (0.1,)}, strategies=("random",)))
    run_experiment(ExperimentConfig(**{**base, "budgets": (0.3,)}, strategies=("random-warm",)))
    monkeypatch.setattr(runner, "train_run", lambda *a, **k: pytest.fail("trained a run"))
    res = run_experiment(ExperimentConfig(**base, report_only=True))
    assert {(r["strategy"], r["budget"]) for r in res["rows"]} == {("random", 0.1),
                                                                    ("random-warm", 0.3)}
    with pytest.raises(ValueError, match="No finished run"):
        run_experiment(ExperimentConfig(**dict(base, out=str(tmp_path / "empty")),
                                        report_only=True))


def test_tagged_variant_with_selector_params_shares_the_table(tmp_path):
    out = str(tmp_path)
    base = dict(TINY, seeds=1, out=out, quiet=True, budgets=(0.3,))
    run_experiment(ExperimentConfig(**base, strategies=("gradmatch-pb-warm",)))
    args = ["--out", out, "--dataset", "digits", "--epochs", "4", "--batch-size", "64",
            "--R", "2", "--seeds", "1", "--budgets", "0.3", "--threads", "1",
            "--quiet", "--strategies", "gradmatch-pb-warm", "--tag", "pool",
            "--selector-param", "pool_fraction=0.5"]
    assert main(args) == 0
    records = runner.load_records(os.path.join(out, "runs"))
    names = sorted(r["strategy"] for r in records)
    assert names == ["gradmatch-pb-warm", "gradmatch-pb-warm+pool"]
    tagged = next(r for r in records if r["strategy"].endswith("+pool"))
    assert tagged["settings"]["selector_params"] == {"pool_fraction": 0.5}
    rows = run_experiment(ExperimentConfig(**base, report_only=True))["rows"]
    assert {r["strategy"] for r in rows} == set(names)


def test_truncated_record_is_named_and_only_that_run_repeats(tmp_path, monkeypatch):
    cfg = ExperimentConfig(**{**TINY, "seeds": 3}, strategies=("random",)).resolved()
    specs = plan_runs(cfg, 100)
    trained = []

    def fake_train(spec, cfg, data):
        trained.append(spec.run_id)
        return {"run_id": spec.run_id, "test_accuracy": 0.5, "fit_seconds": 0.1}

    monkeypatch.setattr(runner, "train_run", fake_train)
    monkeypatch.setattr(runner, "warm_up", lambda cfg, data: None)
    runs_dir = str(tmp_path / "runs")
    runner.execute(cfg, specs, None, runs_dir)
    assert len(trained) == 3
    broken = os.path.join(runs_dir, specs[1].run_id + ".json")
    with open(broken, "r+", encoding="utf-8") as f:  # a crash mid-write: half a file
        f.truncate(len(f.read()) // 2)
    trained.clear()
    with pytest.warns(RuntimeWarning, match=specs[1].run_id + ".json.*cannot be read"):
        records = runner.execute(cfg, specs, None, runs_dir)
    assert trained == [specs[1].run_id]
    assert [r["run_id"] for r in records] == [s.run_id for s in specs]
    with open(broken, "wb") as f:
        f.write(b"\xff\xfe{")  # not even text
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        assert len(runner.load_records(runs_dir)) == 2
def test_residual_nets():
    net = ResNet18()
    assert sum(p.numel() for p in net.parameters()) == 11_173_962
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert module_kwargs("resnet18", np.zeros((2, 3, 32, 32)), 10) == {"n_classes": 10,
                                                                       "in_channels": 3}
    small = SmallResNet(n_classes=4, in_channels=1)
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 4)
    assert small.linear.in_features == 64
    with pytest.raises(ValueError, match="images"):
        module_kwargs("resnet-small", np.zeros((2, 784)), 10)


def test_cifar10_runs_augmented_from_a_tiny_folder(tmp_path, capsys):
    from test_datasets import write_cifar10

    write_cifar10(tmp_path / "data", n_per_batch=4)
    out = tmp_path / "out"
    argv = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--model",
            "resnet-small", "--epochs", "2", "--batch-size", "5", "--R", "1", "--seeds", "1",
            "--budgets", "0.5", "--strategies", "full", "gradmatch-pb-warm", "--device", "cpu",
            "--threads", "1", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    records = runner.load_records(str(out / "runs"))
    assert sorted(r["strategy"] for r in records) == ["full", "gradmatch-pb-warm"]
    assert all(r["settings"]["augment"] is True and r["settings"]["dataset"] == "cifar10"
               for r in records)
    gm = next(r for r in records if r["strategy"] == "gradmatch-pb-warm")
    assert gm["subset_size"] == 10 and gm["n_selections"] >= 1
    assert main(argv[:3] + [str(tmp_path / "nothing")] + argv[4:]) == 2
    assert "data_batch_1" in capsys.readouterr().err


def test_train_and_test_samples_are_stratified():
    cfg = ExperimentConfig(dataset="digits", train_size=100, test_size=50).resolved()
    X_train, y_train, X_test, y_test = runner.load_data(cfg)
    assert X_train.shape == (100, 64) and len(y_test) == 50
    assert np.bincount(y_train).min() >= 9 and np.bincount(y_test).min() >= 4
    assert plan_runs(cfg, 100)[0].settings["train_size"] == 100
    with pytest.raises(ValueError, match="--train-size"):
        runner.load_data(ExperimentConfig(dataset="digits", train_size=5).resolved())


def test_augment_option():
    args = build_parser().parse_args(["--dataset", "fashion-mnist", "--augment"])
    assert config_from_args(args).resolved().augment is True
    assert ExperimentConfig(dataset="cifar10").resolved().augment is True
    assert ExperimentConfig(dataset="cifar10", augment=False).resolved().augment is False
    assert ExperimentConfig(dataset="fashion-mnist").resolved().augment is False
    with pytest.raises(ValueError, match="--augment"):
        ExperimentConfig(dataset="digits", augment=True).resolved()
    cfg = ExperimentConfig(**TINY).resolved()
    assert "augment" not in plan_runs(cfg, 100)[0].settings  # earlier run ids unchanged
def test_cpu_clock_records_process_time(tmp_path):
    """clock="cpu": fit_seconds is the process CPU time, the split scaled to it; own run_id."""
    base = dict(TINY, seeds=1, out=str(tmp_path), quiet=True, budgets=(0.3,), R=None)
    cpu = run_experiment(ExperimentConfig(**base, strategies=("random-rs2", "full"), clock="cpu"))
    records = runner.load_records(str(tmp_path / "runs"))
    assert len(records) == 2 and all(r["settings"]["clock"] == "cpu" for r in records)
    for r in records:
        assert r["fit_seconds"] == r["cpu_seconds"] > 0 and r["wall_seconds"] > 0
        # the classifier's split covers fit's wall-clock, scaled onto its CPU time
        assert 0.5 * r["cpu_seconds"] < r["timing"]["total"] <= r["cpu_seconds"] * (1 + 1e-9)
    rs2 = next(r for r in records if r["kind"] == "subset")
    assert rs2["settings"]["R"] == 1 and rs2["n_selections"] == rs2["epochs_trained"]
    wall = plan_runs(ExperimentConfig(**base, strategies=("full",)).resolved(), 1257)[0]
    assert wall.run_id not in {r["run_id"] for r in records} and "clock" not in wall.settings
    assert cpu["rows"]
    with pytest.raises(ValueError, match="clock must be"):
        ExperimentConfig(clock="gpu").resolved()
