"""The documentation stays true: generated API pages are current, every name it gives works."""

import pathlib
import re
import sys

import pytest

from sksubset.experiments.plan import parse_strategy
from sksubset.selectors import STRATEGIES, get_selector

DOCS = pathlib.Path(__file__).parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import build_api  # noqa: E402


@pytest.mark.parametrize("page", sorted(build_api.PAGES))
def test_api_pages_are_generated_from_current_docstrings(page):
    text = (DOCS / "api" / f"{page}.md").read_text(encoding="utf-8")
    assert text == build_api.render(page), f"run: python docs/build_api.py ({page}.md is stale)"


def _guide():
    return (DOCS / "user_guide.md").read_text(encoding="utf-8")


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
