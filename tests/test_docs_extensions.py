"""The site's own Sphinx extensions (docs/_ext): folded CSV tables and table cells that wrap."""

import pathlib

import pytest

ROOT = pathlib.Path(__file__).parents[1]


def _build(tmp_path, page, files=None):
    build_main = pytest.importorskip("sphinx.cmd.build").build_main
    src, out = tmp_path / "src", tmp_path / "html"
    src.mkdir(parents=True)
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'docs' / '_ext')!r})\n"
        'project = "t"\nextensions = ["data_table", "long_cells"]\n', encoding="utf-8")
    (src / "index.rst").write_text(page, encoding="utf-8")
    for name, text in (files or {}).items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    status = build_main(["-q", "-W", "-b", "html", str(src), str(out)])
    return status, out


CSV = ("strategy,accuracy_mean,accuracy_std,seeds,date,device,command\n"
       "full-frontier,84.20,1.68,3,2026-12-01,CPU,python -m sksubset.experiments\n"
       "gradmatch,90.10,,5,2026-12-01,CPU,python -m sksubset.experiments --x\n")


def test_a_csv_becomes_a_folded_table_with_its_download(tmp_path):
    status, out = _build(tmp_path, "T\n=\n\n.. data-table:: data/t.csv\n", {"data/t.csv": CSV})
    assert status == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<details class="data-table"' in html and "The table: 2 rows (t.csv)" in html
    table = html[html.index("<table"):html.index("</table>")]
    # mean and std in one cell; the device, date and command stay in the CSV
    assert "84.20 ± 1.68" in table and ">90.10<" in table and ">accuracy<" in table
    assert "2026-12-01" not in table and "sksubset.experiments" not in table
    downloads = list((out / "_downloads").rglob("t.csv"))
    assert len(downloads) == 1 and downloads[0].read_text(encoding="utf-8") == CSV


def test_columns_are_chosen_and_an_unknown_one_fails_the_build(tmp_path):
    page = "T\n=\n\n.. data-table:: data/t.csv\n   :columns: strategy, date\n"
    status, out = _build(tmp_path, page, {"data/t.csv": CSV})
    table = (out / "index.html").read_text(encoding="utf-8").split("<table")[1]
    assert status == 0 and ">date<" in table and "84.20" not in table
    page = "T\n=\n\n.. data-table:: data/t.csv\n   :columns: strategy, speed\n"
    status, _ = _build(tmp_path / "bad", page, {"data/t.csv": CSV})
    assert status != 0


def test_only_cells_of_prose_may_wrap(tmp_path):
    page = ("T\n=\n\n"
            "=====  ==========================================================\n"
            "a      b\n"
            "=====  ==========================================================\n"
            "1.5    a cell of prose that is long enough to wrap on a narrow page\n"
            "=====  ==========================================================\n")
    status, out = _build(tmp_path, page)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert status == 0 and html.count("long-cell") == 1
    assert '<td class="long-cell"><p>a cell of prose' in html
