"""examples/benchmarks/gpu_check.py: goals, costs, archive and the command for a GPU machine."""

import json
import os
import pathlib
import re
import sys
import tarfile

import pytest
import torch

BENCH = pathlib.Path(__file__).parents[1] / "examples" / "benchmarks"
sys.path.insert(0, str(BENCH))
import gpu_check  # noqa: E402

from sksubset.experiments.datasets import FASHION_MNIST_DIR  # noqa: E402
from sksubset.experiments.strategies import make_selector, parse_strategy  # noqa: E402


def _record(strategy, kind, seed, seconds, epochs=None, selections=(), timing=None, kwh=None):
    return {"strategy": strategy, "kind": kind, "budget": None if kind != "subset" else 0.1,
            "seed": seed, "fit_seconds": seconds, "epochs_trained": epochs or 10,
            "n_selections": len(selections), "energy_kwh": kwh,
            "selections": [{"gradient_seconds": g, "solver_seconds": s} for g, s in selections],
            "timing": timing or {"gradients": 0.0, "solver": 0.0, "total": seconds}}


def test_selection_costs():
    records = [_record("full-frontier", "full-frontier", 0, 10.0, epochs=5),   # 2 s / epoch
               _record("full-frontier", "full-frontier", 0, 24.0, epochs=8),   # 3 s / epoch
               _record("gm", "subset", 0, 20.0, selections=[(0.5, 1.5), (0.5, 0.5)],
                       timing={"gradients": 1.0, "solver": 2.0, "total": 20.0}, kwh=2e-3),
               _record("gm", "subset", 1, 30.0, selections=[(1.0, 1.0)],
                       timing={"gradients": 1.0, "solver": 2.0, "total": 30.0})]
    epoch, rows = gpu_check.selection_costs(records)
    assert epoch == pytest.approx(2.5)
    (row,) = rows
    assert row["seeds"] == 2 and row["rounds"] == pytest.approx(1.5)
    assert row["gradient_seconds"] == pytest.approx(2 / 3)
    assert row["solver_seconds"] == pytest.approx(1.0)
    assert row["round_over_epoch"] == pytest.approx((2 / 3 + 1.0) / 2.5)
    assert row["selection_share"] == pytest.approx((3 / 20 + 3 / 30) / 2)
    assert row["energy_kwh"] == pytest.approx(2e-3)  # the run NVML did not measure is left out


def test_omp_goals():
    rows = [{"matrix": "real", "n": 20000, "d": 850, "k": 2000, "ours_time": 0.5,
             "floor_time": 0.2, "cords_time": 12.0},
            {"matrix": "synthetic", "n": 20000, "d": 850, "k": 2000, "ours_time": 0.5,
             "floor_time": 0.3, "cords_time": None, "cords_timeout": 60.0},
            {"matrix": "synthetic", "n": 50000, "d": 5130, "k": 5000, "ours_time": 6.0,
             "floor_time": 2.0, "cords_time": None, "cords_timeout": 15.0},
            {"matrix": "real", "n": 200, "d": 850, "k": 20, "ours_time": 0.1,
             "floor_time": 0.001, "cords_time": 0.1}]
    lines = gpu_check.omp_goals(rows)
    assert lines == [
        "- real 20000x850x2000, >= 20x CORDS: reached: 24x",
        "- real 20000x850x2000, within 2x of the k-matvec floor: NOT reached: 2.5x",
        "- synthetic 20000x850x2000, >= 20x CORDS: reached: > 120x (CORDS timed out)",
        "- synthetic 20000x850x2000, within 2x of the k-matvec floor: reached: 1.67x",
        "- synthetic 50000x5130x5000 in < 5 s: NOT reached: 6 s"]
    assert gpu_check.omp_goals(rows[3:]) == []


def test_archive_leaves_itself_out(tmp_path):
    out = tmp_path / "out"
    (out / "part").mkdir(parents=True)
    (out / "part" / "table.md").write_text("| a |\n")
    path = out / "all.tar.gz"
    gpu_check.archive(str(out), str(path))
    gpu_check.archive(str(out), str(path))  # again, now that the archive exists in out
    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == ["out", "out/part", "out/part/table.md"]


def test_device_command_uses_the_carried_folders():
    cmd = gpu_check.DEVICE_COMMAND
    script = (BENCH / "prepare_gpu_carry.sh").read_text()
    for folder in re.findall(r"_carry/[\w-]+", cmd):
        assert f'"$CARRY/{folder.split("/")[1]}"' in script
    assert "--no-index --no-deps" in cmd and "$OUT/" in cmd
    for wheel in ("skorch", "tabulate", "tqdm", "nvidia-ml-py", "cords"):
        assert f" {wheel}==" in script or f'"{wheel}==' in script


def test_the_benchmarks_page_gives_the_device_command():
    page = (BENCH.parents[1] / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert gpu_check.DEVICE_COMMAND in page
    assert "python examples/benchmarks/gpu_check.py --device cuda" in page


def test_the_best_gradmatch_variant_builds_its_selector():
    """The Fashion-MNIST part's GRAD-MATCH: per class, a pool of three times the budget,
    cycling, the fast solver."""
    sel = make_selector(parse_strategy("gradmatch-pc-warm"), gpu_check.BEST_GRADMATCH)
    p = sel.get_params()
    assert (p["per_class"], p["per_gradient"], p["pool_factor"], p["sampling"]) == (
        True, False, 3.0, "cycle")
    assert (p["criterion"], p["per_step"]) == ("correlation", 16)


@pytest.mark.skipif(
    not os.path.exists(os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")),
    reason=f"Fashion-MNIST is not in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)")
def test_small_mode_runs_every_part_against_the_library(tmp_path):
    """The prepared GPU check in its CPU-sized mode: every part runs on today's API."""
    threads = torch.get_num_threads()
    try:
        assert gpu_check.main(["--small", "--out", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(threads)  # --small runs on one thread
    with open(tmp_path / "gpu_check.json", encoding="utf-8") as f:
        parts = json.load(f)["parts"]
    assert set(parts) == {"device", "omp", "per-class", "fmnist"}
    assert not any("error" in part for part in parts.values())
    assert parts["device"]["passed"]
