"""The built book, as a reader's browser shows it, with the network cut off."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import SITE

pytestmark = pytest.mark.browser

PAGES = sorted(
    str(p.relative_to(SITE)) for p in SITE.rglob("*.html")
    if not p.relative_to(SITE).parts[0].startswith(("_", "reports"))
    and p.name not in {"genindex.html", "search.html", "prf-prf.html"}
) if SITE.exists() else []


def test_site_has_the_expected_pages():
    for page in ("book/intro.html", "book/notation.html", "notebooks/ch1_basics.html",
                 "book/bibliography.html"):
        assert page in PAGES, f"{page} missing from the built site"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_without_errors(offline_page, site_url, path):
    page = offline_page.goto(f"{site_url}/{path}")
    assert page.title(), f"{path} has no title"
    assert offline_page.blocked == [], f"{path} tried to reach the network: {offline_page.blocked}"
    assert offline_page.errors == [], f"{path} raised JavaScript errors: {offline_page.errors}"


@pytest.mark.parametrize("path", ["book/notation.html", "notebooks/ch1_basics.html"])
def test_math_is_typeset_by_local_mathjax(offline_page, site_url, path):
    page = offline_page.goto(f"{site_url}/{path}")
    page.wait_for_selector("mjx-container", timeout=15000)
    assert page.locator("mjx-container").count() >= 3
    text = page.locator("article").inner_text()
    assert "$$" not in text and "\\frac" not in text, "raw TeX left on the page"


def test_exercise_solution_is_hidden_until_clicked(offline_page, site_url):
    page = offline_page.goto(f"{site_url}/notebooks/ch1_basics.html")
    solution = page.locator("details.solution, div.solution").first
    assert solution.count() == 1
    hidden_text = page.get_by_text("the loss grows linearly", exact=False)
    assert not hidden_text.is_visible(), "the solution is visible before it is opened"
    solution.locator("summary, .toggle-button, button").first.click()
    hidden_text.wait_for(state="visible", timeout=5000)
    assert hidden_text.is_visible()


def test_notebook_download_offers_the_ipynb(offline_page, site_url):
    page = offline_page.goto(f"{site_url}/notebooks/ch1_basics.html")
    link = page.locator("a[href$='ch1_basics.ipynb']").first
    assert link.count() == 1, "no .ipynb download link on the notebook page"
    href = link.get_attribute("href")
    response = page.request.get(page.url.rsplit("/", 1)[0] + "/" + href)
    assert response.ok
    notebook = json.loads(response.body())
    assert notebook["nbformat"] == 4
    sources = "".join("".join(c["source"]) for c in notebook["cells"])
    assert "import mlteach" in sources


WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json"'  # a widget output
TQDM_TIMING = re.compile(r"\d+/\d+ \[\d+:\d\d(?::\d\d)?(<|&lt;|\\u003c)")  # "52/52 [02:42<00:00, 2.78s/it]"


@pytest.mark.parametrize("path", PAGES)
def test_no_page_publishes_a_progress_bar(path):
    """Progress bars of long work go to the build log (mlteach.progress), not into the page: no
    widget of a bar, no timing of the build machine."""
    text = (SITE / path).read_text(encoding="utf-8")
    assert WIDGET_VIEW not in text, f"{path} holds a widget"
    found = TQDM_TIMING.search(text)
    assert found is None, f"{path} shows a progress bar: {found.group(0) if found else ''}"


def test_student_notebook_download_has_no_solutions(offline_page, site_url):
    page = offline_page.goto(f"{site_url}/notebooks/ch1_basics.html")
    link = page.locator("a[href$='student-notebooks/notebooks/ch1_basics.ipynb']").first
    assert link.count() == 1, "no student notebook in the download menu"
    response = page.request.get(page.url.rsplit("/", 1)[0] + "/" + link.get_attribute("href"))
    assert response.ok
    sources = "".join("".join(c["source"]) for c in json.loads(response.body())["cells"])
    assert "Show that" in sources, "the exercise statement is missing"
    assert "grows linearly" not in sources, "the solution leaked into the student notebook"
