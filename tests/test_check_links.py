"""docs/check_links.py: every relative link of a built site names an existing file and anchor."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parents[1]
SPEC = importlib.util.spec_from_file_location("check_links", ROOT / "docs" / "check_links.py")
check_links = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_links)


def _site(root, pages):
    for name, html in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{html}</body></html>", encoding="utf-8")


def test_it_finds_missing_files_and_anchors_and_only_those(tmp_path):
    _site(tmp_path, {
        "index.html": '<h1 id="top">x</h1><a href="guide.html#setup">ok</a>'
                      '<a href="guide.html#nowhere">bad anchor</a><a href="gone.html">bad file</a>'
                      '<a href="#top">ok</a><a href="#">ok</a><a href="api/">ok: its index</a>'
                      '<img src="img/plot.png"><script src="missing.js?v=1"></script>'
                      '<a href="https://example.org/x.html#y">another site</a>'
                      '<a href="mailto:a@b.c">mail</a><a href="../outside.html">outside</a>',
        "guide.html": '<section id="setup"><a name="old-name"></a></section>'
                      '<a href="index.html#old">bad</a><a href="guide.html#old-name">ok</a>'
                      '<a href="api/f%C3%BCr.html#a%20b">ok, quoted</a>',
        "api/index.html": '<a href="../index.html#top">ok</a>',
        "api/für.html": '<p id="a b">x</p>',
        "_static/template.html": '<a href="{{ pathto(x) }}">a template, no page</a>',
    })
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "plot.png").write_bytes(b"png")
    broken = check_links.broken_links(tmp_path)
    assert sorted(broken) == [
        ("guide.html", "index.html#old", "no such anchor"),
        ("index.html", "../outside.html", "outside the site"),
        ("index.html", "gone.html", "no such file"),
        ("index.html", "guide.html#nowhere", "no such anchor"),
        ("index.html", "missing.js?v=1", "no such file"),
    ]
    assert check_links.main([str(tmp_path)]) == 1
    (tmp_path / "index.html").write_text('<h1 id="top"></h1><a href="guide.html#setup">ok</a>',
                                         encoding="utf-8")
    (tmp_path / "guide.html").write_text('<p id="setup"></p>', encoding="utf-8")
    assert check_links.main([str(tmp_path)]) == 0


def test_a_sphinx_site_with_a_cross_page_anchor_passes_and_a_broken_raw_link_fails(tmp_path):
    """A minimal site built by Sphinx (no theme of ours, no extension): what Sphinx writes, the
    check reads."""
    sphinx_main = pytest.importorskip("sphinx.cmd.build").build_main
    src, out = tmp_path / "src", tmp_path / "html"
    src.mkdir()
    (src / "conf.py").write_text('project = "t"\nextensions = []\n', encoding="utf-8")
    (src / "index.rst").write_text(
        "Top\n===\n\n.. toctree::\n\n   other\n\nSee :ref:`part`.\n\n"
        ".. raw:: html\n\n   <a href=\"other.html#missing-part\">x</a>\n", encoding="utf-8")
    (src / "other.rst").write_text("Other\n=====\n\n.. _part:\n\nA part\n------\n\ntext\n",
                                   encoding="utf-8")
    assert sphinx_main(["-q", "-b", "html", str(src), str(out)]) == 0
    assert check_links.broken_links(out) == [
        ("index.html", "other.html#missing-part", "no such anchor")]


@pytest.mark.skipif(not (ROOT / "docs" / "_build" / "html" / "index.html").exists(),
                    reason="the site is not built (python -m sphinx -b html docs docs/_build/html)")
def test_the_built_site_has_no_broken_internal_link():
    assert check_links.broken_links(ROOT / "docs" / "_build" / "html") == []
