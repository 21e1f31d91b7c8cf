"""The runner on regression data sets: the data, the runs' R2 and RMSE, the table."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from sksubset.experiments import ExperimentConfig, run_experiment
from sksubset.experiments.datasets import load_data, load_dataset
from sksubset.experiments.regression import (
    FRIEDMAN_SIZES,
    constant_scores,
    load_friedman,
    regression_scores,
)


def test_the_data_sets_are_standardized_real_targets():
    X_train, y_train, X_test, y_test = load_dataset("diabetes")
    assert X_train.shape == (309, 10) and y_test.shape == (133,) and y_train.dtype == np.float32
    np.testing.assert_allclose([y_train.mean(), y_train.std()], [0, 1], atol=1e-5)
    X_train, y_train, X_test, y_test = load_friedman(n_train=500, n_test=100)
    assert X_train.shape == (500, 10) and len(y_test) == 100
    assert FRIEDMAN_SIZES == (50_000, 10_000)
    again = load_friedman(n_train=500, n_test=100)
    np.testing.assert_array_equal(again[1], y_train)  # generated with a fixed seed


def test_samples_of_a_regression_set_keep_real_targets():
    cfg = ExperimentConfig(dataset="diabetes", train_size=100, test_size=50).resolved()
    X_train, y_train, X_test, y_test = load_data(cfg)
    assert len(y_train) == 100 and len(y_test) == 50 and y_train.dtype == np.float32


def test_scores():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    pred = np.array([0.5, 1.0, 2.0, 2.5])
    scores = regression_scores(y, pred)
    assert scores["test_r2"] == pytest.approx(r2_score(y, pred))
    assert scores["test_rmse"] == pytest.approx(np.sqrt(0.125))
    assert constant_scores(y - y.mean())["test_r2"] == pytest.approx(0.0)
    assert constant_scores(np.array([0, 1, 1]))["test_accuracy"] == pytest.approx(2 / 3)


def test_a_regression_experiment_end_to_end(tmp_path):
    result = run_experiment(ExperimentConfig(
        dataset="diabetes", epochs=4, batch_size=32, R=2, seeds=2, budgets=(0.3,),
        # one frontier epoch costs less than any subset run: each has a frontier to compare with
        frontier_epochs=(1,), quiet=True, device="cpu", threads=1, out=str(tmp_path),
        strategies=("full", "full-frontier", "random-warm", "default", "gradmatch-pb-warm",
                    "craig-pb-warm", "glister-warm", "crest", "random-rs2")))
    for record in result["records"]:
        assert "test_accuracy" not in record
        assert -5 < record["test_r2"] <= 1 and record["test_rmse"] > 0
    rows = {r["strategy"]: r for r in result["rows"]}
    assert rows["default"]["p_vs_random_warm"] is not None
    assert rows["default"]["above_frontier"] is not None
    header = result["table"].splitlines()[0]
    assert "R2 %" in header and "RMSE" in header and "acc %" not in header


def test_the_per_gradient_strategy_is_refused_on_a_regression_set(tmp_path):
    with pytest.raises(ValueError, match="per_gradient=True.*regressor has no classes"):
        run_experiment(ExperimentConfig(
            dataset="diabetes", epochs=2, batch_size=32, seeds=1, budgets=(0.3,), quiet=True,
            device="cpu", threads=1, out=str(tmp_path), strategies=("gradmatch",)))
