"""The claim table's HTML block (mlteach.claim_table) without a browser: its input contract
and what it writes. The browser tests (tests/browser/test_claim_table.py) click it."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mlteach.claim_table import COLUMNS, claim_table_view


def claims(**changes) -> pd.DataFrame:
    rows = [dict(chapter="2. Two-way", claim="two-way beats BCE", source="Table 1", dataset="mosaics",
                 classes=10, kind="greater", paper="71.3 vs 70.1", ours="60.2 vs 59.8", effect=0.41,
                 ci_low=0.12, ci_high=0.7, margin=float("nan"), seeds=5, verdict="holds", note=""),
            dict(chapter="2. Two-way", claim="A/A", source="control", dataset="mosaics", classes=10,
                 kind="control", paper=float("nan"), ours="60.2 vs 60.1", effect=0.05, ci_low=-0.2,
                 ci_high=0.3, margin=float("nan"), seeds=5, verdict="inconclusive", note="<b>x</b>"),
            dict(chapter="3. DR", claim="DR equals C-LSEP on head classes", source="Table 4",
                 dataset="yeast", classes=14, kind="equivalent", paper="1.0", ours="0.2", effect=-2.0,
                 ci_low=-3.0, ci_high=-1.5, margin=1.0, seeds=3, verdict="does not hold", note="tail")]
    table = pd.DataFrame(rows)
    for column, value in changes.items():
        table[column] = value
    return table


def test_every_claim_becomes_a_row_grouped_by_chapter_in_order():
    html = claim_table_view(claims(), "../claims.csv").html
    assert html.count('<tr class="mct-row"') == 3
    groups = re.findall(r'<tr class="mct-group"[^>]*><th[^>]*>([^<]+)<', html)
    assert groups == ["2. Two-way", "3. DR"]
    assert 'href="../claims.csv" download' in html


def test_counts_numbers_and_missing_values_are_written_as_a_reader_reads_them():
    html = claim_table_view(claims(), "c.csv").html
    assert "1 holds \u00b7 0 does not hold \u00b7 1 inconclusive (of which 1 A/A control)" in html
    assert "0.41 [0.12, 0.70]" in html
    assert "-2.00 [-3.00, -1.50] within \u00b11.00" in html  # an equivalence claim shows its margin
    assert not re.search(r"\bnan\b", html, re.IGNORECASE)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # text is escaped


def test_a_link_column_links_each_claim_and_may_be_left_empty():
    table = claims(link=["ch2.html#bce", "", "ch3.html#head"])
    html = claim_table_view(table, "c.csv").html
    assert '<a href="ch2.html#bce">two-way beats BCE</a>' in html
    assert '<a href="ch3.html#head">' in html
    assert ">A/A<" in html  # no link, plain text
    assert "<a href" not in claim_table_view(claims(), "c.csv").html.split("<table", 1)[1]


def test_columns_must_be_exactly_the_claim_table_columns():
    with pytest.raises(ValueError, match=r"missing \['note'\]"):
        claim_table_view(claims().drop(columns="note"), "c.csv")
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        claim_table_view(claims(extra=1), "c.csv")
    with pytest.raises(ValueError, match="in this order"):
        claim_table_view(claims()[list(reversed(COLUMNS))], "c.csv")
    with pytest.raises(ValueError, match="pandas DataFrame"):
        claim_table_view(claims().to_dict("records"), "c.csv")


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match=r"unknown verdicts \['maybe'\]"):
        claim_table_view(claims(verdict="maybe"), "c.csv")
