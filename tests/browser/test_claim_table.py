"""The claim table of :mod:`mlteach.claim_table` in a browser, on a page made from a generated
table (no book build needed): the filter box and the verdict filter narrow the rows, a click on
a header sorts them, a claim's link lands on its section, a phone shows cards that fit."""

from __future__ import annotations

import functools
import http.server
import re
import threading

import pandas as pd
import pytest

from mlteach.claim_table import claim_table_view

pytestmark = pytest.mark.browser

CHAPTERS = ["2. Two-way loss", "3. DR loss", "5. EM and APL"]
PAGE_HEAD = ('<!DOCTYPE html><html lang="en" data-theme="{theme}"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             '<title>{title}</title></head><body>')


def generated_claims() -> pd.DataFrame:
    """Fifteen claims over three chapters: every verdict, two A/A controls, a missing paper
    number, a claim without a link."""
    rows = []
    verdicts = ["holds", "does not hold", "inconclusive", "holds", "inconclusive"]
    for c, chapter in enumerate(CHAPTERS):
        for k in range(5):
            effect = round(1.5 - 0.7 * k + 0.3 * c, 2)
            verdict = verdicts[k]
            kind = "control" if (k == 4 and c < 2) else ("equivalent" if k == 3 else "greater")
            rows.append(dict(
                chapter=chapter, claim=f"claim {c}{k}: method {k} beats the baseline",
                source=f"Table {k + 1}", dataset="yeast" if k % 2 else "mosaics",
                classes=14 if k % 2 else 10, kind=kind,
                paper=float("nan") if (c, k) == (1, 1) else f"{60 + k:.1f} vs {58 + k:.1f}",
                ours=f"{50 + k:.1f} ± 0.4 vs {49 + k:.1f} ± 0.5", effect=effect,
                ci_low=round(effect - 0.5, 2), ci_high=round(effect + 0.5, 2),
                margin=1.0 if kind == "equivalent" else float("nan"), seeds=3 + k,
                verdict=verdict, note="" if verdict == "holds" else f"a reason {c}{k}",
                link="" if (c, k) == (2, 2) else f"chapter{c}.html#claim-{c}{k}"))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def claims_site(tmp_path_factory):
    """index.html (light), dark.html (dark theme) with the table, and one page per chapter
    with a section per claim, served over local HTTP."""
    root = tmp_path_factory.mktemp("claims-site")
    claims = generated_claims()
    block = claim_table_view(claims, "claims.csv").html
    for name, theme in (("index.html", "light"), ("dark.html", "dark")):
        (root / name).write_text(PAGE_HEAD.format(theme=theme, title="Claims") + block + "</body></html>",
                                 encoding="utf-8")
    claims.to_csv(root / "claims.csv", index=False)
    for c, _ in enumerate(CHAPTERS):
        sections = "".join(f'<section id="claim-{c}{k}" style="min-height:1500px"><h2>Claim {c}{k}</h2>'
                           f"</section>" for k in range(5))
        (root / f"chapter{c}.html").write_text(
            PAGE_HEAD.format(theme="light", title=f"Chapter {c}") + sections + "</body></html>",
            encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", claims
    server.shutdown()


def visible_rows(page) -> list[dict]:
    return page.locator("tr.mct-row:not([hidden])").evaluate_all(
        "rows => rows.map(r => ({claim: r.dataset.claim, verdict: r.dataset.verdict, kind: r.dataset.kind,"
        " effect: parseFloat(r.dataset.effect), chapter: r.closest('tbody').querySelector('tr.mct-group')"
        ".textContent}))")


def shown_count(page) -> str:
    return page.locator(".mct-shown").inner_text()


def test_typing_in_the_filter_narrows_the_rows(offline_page, claims_site):
    url, claims = claims_site
    page = offline_page.goto(url)
    assert len(visible_rows(page)) == len(claims) == 15
    page.locator("input.mct-filter").fill("yeast")
    expected = claims[claims["dataset"] == "yeast"]
    rows = visible_rows(page)
    assert sorted(r["claim"] for r in rows) == sorted(expected["claim"])
    assert shown_count(page) == f"{len(expected)} of 15 claims shown"
    page.locator("input.mct-filter").fill("a reason 22")
    assert [r["claim"] for r in visible_rows(page)] == ["claim 22: method 2 beats the baseline"]
    groups = page.locator("tr.mct-group")
    assert [groups.nth(i).is_visible() for i in range(3)] == [False, False, True], \
        "a chapter without a matching row is still shown"
    page.locator("input.mct-filter").fill("")
    assert len(visible_rows(page)) == 15
    assert offline_page.blocked == [] and offline_page.errors == []


def test_the_verdict_filter_keeps_one_verdict_or_the_controls(offline_page, claims_site):
    url, claims = claims_site
    page = offline_page.goto(url)
    select = page.locator("select.mct-verdict")
    select.select_option("does not hold")
    rows = visible_rows(page)
    assert {r["verdict"] for r in rows} == {"does not hold"}
    assert len(rows) == int((claims["verdict"] == "does not hold").sum()) == 3
    select.select_option("control")
    assert sorted(r["claim"] for r in visible_rows(page)) == sorted(claims.loc[claims["kind"] == "control", "claim"])
    page.locator("input.mct-filter").fill("claim 0")  # both filters at once
    assert [r["claim"] for r in visible_rows(page)] == ["claim 04: method 4 beats the baseline"]
    assert offline_page.errors == []


def test_a_click_on_a_header_sorts_the_rows_within_each_chapter(offline_page, claims_site):
    url, _ = claims_site
    page = offline_page.goto(url)
    header = page.locator("th[data-sort=effect]")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    rows = visible_rows(page)
    for chapter in CHAPTERS:
        effects = [r["effect"] for r in rows if r["chapter"].startswith(chapter)]
        assert len(effects) == 5 and effects == sorted(effects), chapter
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    rows = visible_rows(page)
    first = [r["effect"] for r in rows if r["chapter"].startswith(CHAPTERS[0])]
    assert first == sorted(first, reverse=True)
    page.locator("th[data-sort=claim] button").click()
    claims = [r["claim"] for r in visible_rows(page) if r["chapter"].startswith(CHAPTERS[1])]
    assert claims == sorted(claims)
    assert offline_page.errors == []


def test_a_claim_links_to_the_section_that_measures_it(offline_page, claims_site):
    url, _ = claims_site
    page = offline_page.goto(url)
    page.get_by_role("link", name="claim 13: method 3 beats the baseline").click()
    page.wait_for_url(re.compile(r"/chapter1\.html#claim-13$"))
    assert page.get_by_role("heading", name="Claim 13").is_visible()
    assert abs(page.locator("#claim-13").bounding_box()["y"]) < 2, "the section is not at the top"
    page.go_back()
    assert page.locator("td.mct-claim", has_text="claim 22").locator("a").count() == 0
    csv = page.get_by_role("link", name="Download the table (CSV)")
    assert page.request.get(f"{url}/{csv.get_attribute('href')}").text().startswith("chapter,claim,")


def test_the_overview_counts_each_chapters_verdicts(offline_page, claims_site):
    url, claims = claims_site
    page = offline_page.goto(url)
    first = page.locator(".mct-overview .mct-counts").first.inner_text()
    assert first == "2 holds · 1 does not hold · 2 inconclusive (of which 1 A/A control)"
    bar = page.locator(".mct-overview .mct-bar").first
    widths = bar.locator("span").evaluate_all("spans => spans.map(s => s.getBoundingClientRect().width)")
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.05), "the bar is not drawn to scale"
    assert "nan" not in page.locator("table").inner_text().lower()


def test_a_phone_shows_cards_that_fit_the_screen(offline_page, claims_site):
    url, _ = claims_site
    offline_page.page.set_viewport_size({"width": 390, "height": 800})
    page = offline_page.goto(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    page.locator("th[data-sort=seeds] button").click()  # the headers remain, as sort buttons
    assert page.locator("th[data-sort=seeds]").get_attribute("aria-sort") == "ascending"
    note = page.locator("tr.mct-row").nth(1).locator("td.mct-note")
    assert note.bounding_box()["width"] > 250, "the note column is squeezed"
    label = note.evaluate("td => getComputedStyle(td, '::before').content")
    assert "Note" in label


def test_verdict_colours_follow_the_dark_theme(offline_page, claims_site):
    url, _ = claims_site
    chip = "tr.mct-row .mct-chip.mct-holds"
    light = offline_page.goto(url).locator(chip).first.evaluate("e => getComputedStyle(e).backgroundColor")
    dark = offline_page.goto(f"{url}/dark.html").locator(chip).first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert light != dark
    brightness = [sum(map(int, re.findall(r"\d+", colour)[:3])) for colour in (light, dark)]
    assert brightness[1] < brightness[0], "the dark theme's chip is not darker"
