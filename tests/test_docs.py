"""The documentation stays true: every snippet of the user guide runs, every name works."""

import doctest
import importlib
import pathlib
import pkgutil
import re

import pytest

import sksubset
from sksubset.experiments.strategies import parse_strategy
from sksubset.selectors import STRATEGIES, get_selector

DOCS = pathlib.Path(__file__).parents[1] / "docs"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.M | re.S)


def _guide():
    return (DOCS / "user_guide.md").read_text(encoding="utf-8")


def _blocks(text, *languages):
    return [(lang, code) for lang, code in FENCE.findall(text) if lang in languages]


def test_the_guide_has_snippets():
    kinds = [lang for lang, _ in _blocks(_guide(), "python", "pycon", "bash")]
    assert kinds.count("python") >= 4 and "pycon" in kinds and "bash" in kinds


def test_user_guide_snippets_run_in_order(tmp_path, monkeypatch, one_thread):
    """Each ``python`` block runs, in order, in one namespace; ``pycon`` blocks are doctests
    whose printed output must match."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(verbose=False)
    for i, (lang, code) in enumerate(_blocks(_guide(), "python", "pycon")):
        if lang == "python":
            exec(compile(code, f"user_guide.md block {i}", "exec"), namespace)
        else:
            test = parser.get_doctest(code, namespace, f"user_guide.md block {i}", None, 0)
            runner.run(test, clear_globs=False)
    results = runner.summarize(verbose=False)
    assert results.failed == 0 and results.attempted >= 3


def test_every_selector_name_in_the_guide_is_registered():
    names = re.findall(r'^\| `"([a-z-]+)"` \|', _guide(), flags=re.M)
    assert sorted(names) == sorted(STRATEGIES)
    for name in names:
        assert get_selector(name).__name__.endswith("Selector")


def test_every_runner_strategy_named_in_the_docs_parses():
    text = _guide() + (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`((?:full|gradmatch|random|craig|glister|crest)[a-z-]*)`", text))
    names.discard("full-*")
    assert {"full", "full-frontier", "full-earlystop", "gradmatch-pb-warm"} <= names
    for name in names:
        parse_strategy(name)


def test_the_guide_imports_what_the_top_level_exports():
    """A user copies the guide's imports: every name it takes from ``sksubset`` is exported
    there, and it imports nothing from a private module."""
    code = "\n".join(code for _, code in _blocks(_guide(), "python", "pycon"))
    imported = re.findall(r"^\s*(?:>>> )?from sksubset import ([\w, ]+)$", code, flags=re.M)
    names = {name.strip() for line in imported for name in line.split(",")}
    assert names and names <= set(sksubset.__all__)
    assert not re.search(r"(?:from|import) sksubset(?:\.\w+)*\._", code)


def test_the_api_pages_document_public_names_only():
    """Explicit lists of public names: no module's members rendered wholesale, nothing private."""
    for page in (DOCS / "api").glob("*.rst"):
        text = page.read_text(encoding="utf-8")
        for directive, target in re.findall(r"^\.\. (auto\w+):: (\S+)", text, flags=re.M):
            parts = target.split(".")
            assert not any(p.startswith("_") and p != "__main__" for p in parts), (page, target)
            if directive == "automodule":
                body = text.split(f".. automodule:: {target}", 1)[1].split("\n\n", 1)[0]
                assert ":members:" not in body, (page, target)


def _modules_with_examples():
    names = [m.name for m in pkgutil.walk_packages(sksubset.__path__, "sksubset.")
             if not m.name.endswith("__main__")]
    return [name for name in names
            if any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))]


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples_run(name, one_thread):
    """Every ``>>>`` example of the library's docstrings prints what it shows."""
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
