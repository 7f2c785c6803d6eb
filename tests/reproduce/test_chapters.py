"""What every reproduction chapter shares, checked the same way for each: its name and page, a
``claims(scale)`` entry point, and claim links (``LINKS``: where each kind of claim is measured)
that land on a section of a page of the book."""

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml
from docutils.nodes import make_id

from mlteach.reproduce import CHAPTER_MODULES

ROOT = Path(__file__).resolve().parents[2]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _toc_files(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["file"]} if "file" in node else set()
        return found.union(*(_toc_files(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_toc_files(value) for value in node))
    return set()


def _slug(heading: str) -> str:
    """The id Sphinx gives a section (docutils' ``make_id`` of its title, MyST markup removed)."""
    return make_id(re.sub(r"[`*]|\{\w+\}", "", heading))


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    anchors = {_slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}
    return anchors | set(re.findall(r"^\(([\w-]+)\)=$", text, flags=re.M))


@pytest.mark.parametrize("name", CHAPTER_MODULES)
def test_every_chapter_has_a_name_an_entry_point_and_a_page_in_the_book(name):
    module = importlib.import_module(f"mlteach.reproduce.{name}")
    assert isinstance(module.CHAPTER, str) and module.CHAPTER[0].isdigit()
    assert "scale" in inspect.signature(module.claims).parameters
    links = {tuple(link.split(".html#")) for link in module.LINKS.values()}
    assert links, f"{name} links no claim to the section that measures it"
    for page, anchor in links:
        assert f"notebooks/{page}" in _toc_files(TOC), f"{page} is not in the table of contents"
        assert anchor in _anchors(ROOT / "notebooks" / f"{page}.md"), f"{page}.html#{anchor} lands nowhere"


def test_slugs_follow_myst():
    assert _slug("Experiment 1: seven losses on full labels") == "experiment-1-seven-losses-on-full-labels"
    assert _slug("Where does the gradient \"switch on\"?") == "where-does-the-gradient-switch-on"
    assert _slug("The A/A control") == "the-a-a-control"
    assert _slug("Loss of `{math}`x`` values") == "loss-of-x-values"
