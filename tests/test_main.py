"""Command line of the experiment runner (python -m sksubset.experiments, sksubset-bench)."""

import os
import sys

import numpy as np
import pytest

from sksubset.experiments.__main__ import build_parser, check_args, config_from_args, main


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
    assert cfg.strategies == ("full", "random") and cfg.lr == 0.01
    cfg = config_from_args(build_parser().parse_args(["--dataset", "mnist1d"])).resolved()
    assert (cfg.model, cfg.lr) == ("cnn1d", 0.05)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--budgets", "1.5"])
    with pytest.raises(SystemExit):
        main(["--strategies", "nonsense"])
    with pytest.raises(SystemExit):
        main(["--kappa", "1.5"])


def test_selector_params_and_weighting():
    args = build_parser().parse_args(["--selector-param", "pool_factor=3",
                                      "--selector-param", "sampling=cycle",
                                      "--weighting", "subset"])
    cfg = config_from_args(args)
    assert cfg.selector_params == {"pool_factor": 3.0, "sampling": "cycle"}
    assert cfg.weighting == "subset"
    assert config_from_args(build_parser().parse_args([])).selector_params is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--selector-param", "no-equals-sign"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--weighting", "bogus"])


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


def test_augment_option():
    args = build_parser().parse_args(["--dataset", "fashion-mnist", "--augment"])
    assert config_from_args(args).resolved().augment is True
    args = build_parser().parse_args(["--dataset", "cifar10", "--no-augment"])
    assert config_from_args(args).resolved().augment is False


def test_command_line_chooses_where_the_runs_train():
    assert config_from_args(build_parser().parse_args([])).workers is None  # fill the cores
    args = build_parser().parse_args(["--workers", "2"])
    assert config_from_args(args).workers == 2 and args.scheduler is None
    args = build_parser().parse_args(["--scheduler", "tcp://10.0.0.5:8786"])
    assert config_from_args(args).scheduler == "tcp://10.0.0.5:8786"
    args = build_parser().parse_args(["--scheduler", "local", "--workers", "2"])
    cfg = config_from_args(args).resolved()
    assert (cfg.scheduler, cfg.workers) == ("local", 2)
    args = build_parser().parse_args(["--workers", "2", "--scheduler", "tcp://x:1"])
    with pytest.raises(ValueError, match="--workers"):
        config_from_args(args).resolved()  # main turns it into a usage error (status 2)


@pytest.mark.parametrize("argv, message", [
    (["--strategies", "gradmatch-pc-warm", "--selector-param", "pool_fraction=0.3"],
     "has no parameter 'pool_fraction'"),
    (["--selector-param", "criterion=correlation"],  # the default list holds random
     "strategy 'random-rs2' (RandomSelector) has no parameter 'criterion'"),
    (["--strategies", "default", "--selector-param", "pool_factor=0.5"], "pool_factor"),
    (["--strategies", "default", "--selector-param", "budget=0.2"], "budget=0.2"),
])
def test_selector_params_are_checked_before_any_run(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--out", str(tmp_path)])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # nothing ran


def test_selector_params_of_every_strategy_named_pass():
    parser = build_parser()
    check_args(parser, parser.parse_args(["--strategies", "default", "gradmatch-pc-warm",
                                          "--selector-param", "pool_factor=3"]))
    check_args(parser, parser.parse_args(["--dataset", "friedman", "--strategies", "default",
                                          "--selector-param", "sampling=cycle"]))
