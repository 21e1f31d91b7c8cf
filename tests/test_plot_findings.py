"""The benchmarks page's figures are drawn from its CSV files by one documented command."""

import csv
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[1]
DATA = ROOT / "docs" / "data"
sys.path.insert(0, str(ROOT / "examples" / "benchmarks"))
import plot_findings  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    """(width, height) in pixels, from the PNG header."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG, path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_every_finding_is_drawn_from_its_csv(tmp_path):
    names = sorted(p.stem for p in DATA.glob("*.csv"))
    assert len(names) >= 15 and set(plot_findings.PLOTS) == set(names)
    written = plot_findings.main(["--data", str(DATA), "--out", str(tmp_path)])
    assert sorted(pathlib.Path(p).name for p in written) == [f"findings_{n}.png" for n in names]
    for name in names:
        width, height = _png_size(tmp_path / f"findings_{name}.png")
        # about 8 x 5 inches at the script's resolution (11 wide for two panels), legend below
        assert width in (8 * plot_findings.DPI, 11 * plot_findings.DPI), name
        assert 4.5 * plot_findings.DPI <= height <= 9 * plot_findings.DPI, name


def test_the_page_shows_each_figure_and_table_and_states_the_command():
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert "python examples/benchmarks/plot_findings.py" in page.split("## Findings")[0]
    assert len(page.splitlines()) <= 400
    for csv_file in DATA.glob("*.csv"):
        assert f"](figures/findings_{csv_file.stem}.png)" in page, csv_file.stem
        assert f"```{{data-table}} data/{csv_file.name}" in page, csv_file.stem
    docs = page + (ROOT / "docs" / "user_guide.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for figure in (ROOT / "docs" / "figures").glob("*.png"):  # no figure left behind
        assert (f"](figures/{figure.name})" in docs
                or f"](docs/figures/{figure.name})" in readme), figure.name


def test_every_row_says_where_and_when_it_was_measured():
    for path in DATA.glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows, path.name
        for row in rows:
            assert row["device"] and row["date"].startswith("2026-"), (path.name, row)
            assert not row["command"] or row["command"].startswith("python "), (path.name, row)


def test_a_new_csv_with_accuracy_and_cost_is_drawn_and_any_other_is_refused(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    (data / "regimes.csv").write_text(
        "strategy,epochs,accuracy_mean,accuracy_std,cost_epochs\n"
        "full-frontier,2,80.0,0.5,2\nfull-frontier,4,85.0,0.4,4\ndefault,,84.0,0.6,3.1\n")
    assert plot_findings.main(["--data", str(data), "--out", str(out)]) == [
        str(out / "findings_regimes.png")]
    assert _png_size(out / "findings_regimes.png")[0] == 8 * plot_findings.DPI
    (data / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no drawing for other.csv"):
        plot_findings.main(["--data", str(data), "--out", str(out)])
    with pytest.raises(SystemExit):
        plot_findings.main(["--data", str(data), "--out", str(out), "--only", "nothing"])
