"""Experiment runner: training records, the run job, execution and resuming, end to end."""

import json
import math
import os

import pytest
from test_datasets import write_cifar10

from sksubset.experiments import ExperimentConfig, run_experiment, runner
from sksubset.experiments.__main__ import main
from sksubset.experiments.datasets import load_data
from sksubset.experiments.plan import plan_runs

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
    assert sel["n_harvested"] + sel["n_forward"] > 0  # where the round's factors came from
    assert sel["solver_seconds"] > 0 and 0 <= sel["gradient_error"] < 1
    assert gm["settings"]["kappa"] == 0.5 and gm["energy_kwh"] is None
    assert gm["full_epoch_equivalents"] == pytest.approx(1 + 2 * gm["subset_size"] / 1257)
    assert set(gm["timing"]) >= {"warm_start", "gradients", "solver", "subset_training", "total"}
    assert "n_forward" in gm and "n_harvested" in gm  # None while the classifier lacks them
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
            "--selector-param", "pool_factor=2"]
    assert main(args) == 0
    records = runner.load_records(os.path.join(out, "runs"))
    names = sorted(r["strategy"] for r in records)
    assert names == ["gradmatch-pb-warm", "gradmatch-pb-warm+pool"]
    tagged = next(r for r in records if r["strategy"].endswith("+pool"))
    assert tagged["settings"]["selector_params"] == {"pool_factor": 2.0}
    rows = run_experiment(ExperimentConfig(**base, report_only=True))["rows"]
    assert {r["strategy"] for r in rows} == set(names)


def test_truncated_record_is_named_and_only_that_run_repeats(tmp_path, monkeypatch):
    cfg = ExperimentConfig(**{**TINY, "seeds": 3, "workers": 1},  # trains in this process
                           strategies=("random",)).resolved()
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


def test_cifar10_runs_augmented_from_a_tiny_folder(tmp_path, capsys):
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


@pytest.fixture(scope="module")
def small_data():
    cfg = ExperimentConfig(dataset="digits", train_size=200, test_size=100).resolved()
    return load_data(cfg)


@pytest.mark.parametrize("name", ["gradmatch", "craig-pb-warm", "glister-warm", "crest"])
def test_every_selector_trains_through_the_runner(name, small_data):
    """Each strategy's selector instance is one the classifier accepts and trains with."""
    cfg = ExperimentConfig(**{**TINY, "train_size": 200, "test_size": 100, "R": 1,
                              "batch_size": 16},
                           strategies=(name,)).resolved()
    (spec,) = plan_runs(cfg, 200)
    record = runner.train_run(spec, cfg, small_data)
    assert record["strategy"] == name and record["n_selections"] >= 1
    assert 0 <= record["test_accuracy"] <= 1 and record["subset_size"] == 60
    assert len(record["learning_rates"]) == record["epochs_trained"]


class _Reversed:
    """An executor that finishes the runs in reverse order, without training."""

    def __init__(self):
        self.seen = []

    def map(self, job, specs):
        self.seen = [s.run_id for s in specs]
        for spec in reversed(specs):
            yield spec, {"run_id": spec.run_id, "test_accuracy": 0.5, "fit_seconds": 0.1}


def test_execute_hands_the_runs_not_done_to_the_executor(tmp_path, capsys):
    cfg = ExperimentConfig(**{**TINY, "seeds": 3}, strategies=("random",)).resolved()
    specs = plan_runs(cfg, 100)
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    runner.save_record({"run_id": specs[0].run_id, "done": True},
                       str(runs_dir / (specs[0].run_id + ".json")))
    executor = _Reversed()
    records = runner.execute(cfg, specs, None, str(runs_dir), executor=executor)
    assert executor.seen == [s.run_id for s in specs[1:]]
    assert [r["run_id"] for r in records] == [s.run_id for s in specs]  # spec order
    assert records[0]["done"]
    err = capsys.readouterr().err
    assert "[1/3] random budget=0.3 seed=0: done before, skipped" in err
    assert "[3/3] random budget=0.3 seed=2: accuracy 0.5000, 0.10 s" in err


def test_the_run_job_reads_a_saved_record_and_names_its_task(tmp_path, monkeypatch):
    cfg = ExperimentConfig(**TINY, strategies=("random",)).resolved()
    (spec,) = plan_runs(cfg, 100)
    job = runner.RunJob(cfg, str(tmp_path))
    calls = []
    monkeypatch.setattr(runner, "train_run",
                        lambda spec, cfg, data: calls.append(data) or {"run_id": spec.run_id})
    assert job(spec, "data") == {"run_id": spec.run_id} and calls == ["data"]
    assert job(spec, "other") == {"run_id": spec.run_id} and calls == ["data"]  # read back
    other = runner.RunJob(cfg, str(tmp_path / "elsewhere"))
    assert job.key(spec).endswith(spec.run_id) and job.key(spec) != other.key(spec)
    assert job.key(spec) == runner.RunJob(cfg, str(tmp_path)).key(spec)
    sampled = runner.RunJob(ExperimentConfig(**TINY, train_size=100).resolved(), str(tmp_path))
    assert sampled.data_key != job.data_key  # a sample is other data


def test_the_run_job_prepares_the_data_it_is_given_or_loads_it(monkeypatch):
    cfg = ExperimentConfig(**TINY, train_size=100, test_size=50).resolved()
    warmed = []
    monkeypatch.setattr(runner, "warm_up", lambda cfg, data: warmed.append(data))
    job = runner.RunJob(cfg, "unused")
    assert job.prepare("given") == "given"
    data = job.prepare()
    assert len(data[1]) == 100 and len(data[3]) == 50
    assert warmed[0] == "given" and warmed[1] is data


def test_forward_rows_summed_over_rounds():
    history = [{"n_forward": 10, "n_harvested": 90}, {"n_forward": 5, "n_harvested": 95},
               {"epoch": 3}]
    assert runner._rows_summed(history) == {"n_forward": 15, "n_harvested": 185}
    assert runner._rows_summed([{"epoch": 1}]) == {"n_forward": None, "n_harvested": None}
    assert runner._round_summary({"epoch": 2, "n_forward": 7, "n_harvested": 3}) == {
        "epoch": 2, "n_forward": 7, "n_harvested": 3}


def test_worker_processes_give_the_records_of_one_process(tmp_path):
    """Runs are seeded one by one: trained two at a time in worker processes, each record is
    the one this process trains, and every run is trained once."""
    base = dict(TINY, strategies=("full", "random-rs2", "default"), budgets=(0.1, 0.3))
    one = run_experiment(ExperimentConfig(**base, out=str(tmp_path / "one"), workers=1))
    two = run_experiment(ExperimentConfig(**base, out=str(tmp_path / "two"), workers=2))
    assert len(two["records"]) == 5 == len(os.listdir(tmp_path / "two" / "runs"))
    for a, b in zip(one["records"], two["records"]):
        assert (a["run_id"], a["test_accuracy"], a["learning_rates"]) == (
            b["run_id"], b["test_accuracy"], b["learning_rates"])


def test_a_run_failing_in_a_worker_is_named(tmp_path, monkeypatch, capsys):
    def train_run(spec, cfg, data):
        if spec.seed == 1:
            raise ValueError("this run cannot train")
        return {"run_id": spec.run_id, "test_accuracy": 0.5, "fit_seconds": 0.1}

    monkeypatch.setattr(runner, "train_run", train_run)  # the forked workers inherit it
    argv = ["--strategies", "random", "--seeds", "2", "--budgets", "0.3", "--epochs", "2",
            "--threads", "1", "--workers", "2", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "this run cannot train (raised by run random_b0.3_seed1_" in err
