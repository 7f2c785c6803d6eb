"""The published claim table: the status page links a CSV with exactly the issue's columns, every
verdict in it agrees with its own interval, and every chapter's A/A controls are inconclusive."""

import csv
import math
from urllib.parse import urljoin

import pytest

from mlteach.reproduce.claims import CLAIM_COLUMNS, KINDS, decide

from .conftest import SITE

pytestmark = pytest.mark.browser


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def published_rows(browser, site_url):
    page = browser.new_page()
    page.goto(f"{site_url}/notebooks/reproduction_status.html", wait_until="load")
    links = page.locator("a[href$='claims.csv']")
    assert links.count() >= 1, "the status page links no claims.csv"
    href = links.first.get_attribute("href")
    page.close()
    relative = urljoin("notebooks/reproduction_status.html", href)
    path = SITE / relative
    assert path.is_file(), f"the linked CSV {relative} is not in the site"
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == CLAIM_COLUMNS
        return list(reader)


def test_every_published_verdict_agrees_with_its_interval(published_rows):
    assert len(published_rows) > 50
    for row in published_rows:
        assert row["kind"] in KINDS, row
        low, high, effect = float(row["ci_low"]), float(row["ci_high"]), float(row["effect"])
        assert low <= effect + 1e-9 and effect <= high + 1e-9, row
        exact = int(row["seeds"]) == 0
        assert row["verdict"] == decide(row["kind"], low, high, _number(row["margin"]), exact=exact), row
        assert (row["margin"] != "") == (row["kind"] == "equivalent"), row
        assert row["paper"] and row["paper"].lower() != "nan", row
        assert int(row["classes"]) >= 0 and not math.isnan(effect)


def test_every_chapter_has_inconclusive_controls(published_rows):
    chapters = {row["chapter"] for row in published_rows if row["kind"] != "control" and int(row["seeds"]) > 0}
    controlled = {row["chapter"] for row in published_rows if row["kind"] == "control"}
    assert chapters <= controlled
    controls = [row for row in published_rows if row["kind"] == "control"]
    false_verdicts = [row["claim"] for row in controls if row["verdict"] != "inconclusive"]
    assert len(false_verdicts) <= max(1, len(controls) // 10), false_verdicts
