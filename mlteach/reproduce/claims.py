"""Claims of the papers as rows, and the one rule that turns measurements into verdicts.

A :class:`Claim` is one row of the book's claim table (published as CSV with exactly the
columns :data:`CLAIM_COLUMNS`). Its ``kind`` says how it is decided from the 95 % interval
``[ci_low, ci_high]`` of its ``effect`` (see :func:`decide`):

- ``greater`` (``a`` beats ``b``): effect ``a - b``; holds when the interval lies above 0,
  does not hold when it lies below 0, inconclusive otherwise (an exact claim, whose interval
  is one value and ``seeds`` 0, holds when that value is above 0 and does not hold otherwise);
- ``mechanism``: the same rule, for a statistic that explains a result (a precision against
  its chance level, a share of false positives) rather than the result itself;
- ``equivalent`` (``a`` performs like ``b``): holds when the whole interval lies inside
  ``[-margin, margin]``, does not hold when it lies wholly outside, inconclusive otherwise;
- ``control``: a method against itself on other seeds (an A/A comparison, decided like
  ``greater``); it must come out inconclusive, and the share that does not estimates the
  procedure's false-verdict rate.

Each side of a comparison is a :class:`~mlteach.reproduce.evidence.Measurements`, so seeds and
test images are paired (:func:`~mlteach.reproduce.evidence.paired_interval`).
:func:`compare` builds a claim from two sides; :func:`false_holds_rate` simulates the rule on
no-difference data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .evidence import Measurements, paired_interval

__all__ = ["CLAIM_COLUMNS", "KINDS", "VERDICTS", "Claim", "decide", "compare", "claim_table", "claim_view",
           "write_claims_csv", "false_holds_rate", "paper_number"]

#: The published claim table's columns, in order.
CLAIM_COLUMNS = ("chapter", "claim", "source", "dataset", "classes", "kind", "paper", "ours", "effect",
                 "ci_low", "ci_high", "margin", "seeds", "verdict", "note")
KINDS = ("greater", "equivalent", "mechanism", "control")
VERDICTS = ("holds", "does not hold", "inconclusive")


@dataclass(frozen=True)
class Claim:
    """One claim of a paper with what we measured and the verdict (see the module text).
    ``link``: the page section that measures it (not a CSV column)."""

    chapter: str
    claim: str
    source: str
    dataset: str
    classes: int
    kind: str
    paper: str
    ours: str
    effect: float
    ci_low: float
    ci_high: float
    margin: float | None
    seeds: int
    verdict: str
    note: str = ""
    link: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Claim: kind must be one of {KINDS}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"Claim: verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict != decide(self.kind, self.ci_low, self.ci_high, self.margin, exact=self.seeds == 0):
            raise ValueError(f"Claim {self.claim!r}: verdict {self.verdict!r} disagrees with its interval "
                             f"[{self.ci_low}, {self.ci_high}]")


def decide(kind: str, ci_low: float, ci_high: float, margin: float | None = None, exact: bool = False) -> str:
    """The verdict that the interval ``[ci_low, ci_high]`` of a ``kind`` claim supports
    (``exact``: a value computed without noise, for which a zero effect supports nothing).

    >>> decide("greater", 0.4, 2.1), decide("greater", -0.3, 2.1), decide("greater", -2.0, -0.1)
    ('holds', 'inconclusive', 'does not hold')
    >>> decide("equivalent", -0.4, 0.6, margin=1.0), decide("equivalent", 1.2, 3.0, margin=1.0)
    ('holds', 'does not hold')
    >>> decide("greater", 0.0, 0.0, exact=True)  # an exact zero effect supports no "greater" claim
    'does not hold'

    """
    if kind not in KINDS:
        raise ValueError(f"decide: kind must be one of {KINDS}, got {kind!r}")
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    if kind == "equivalent":
        if margin is None or not margin > 0:
            raise ValueError(f"decide: an equivalence claim needs a positive margin, got {margin!r}")
        if -margin <= ci_low and ci_high <= margin:
            return "holds"
        if ci_low > margin or ci_high < -margin:
            return "does not hold"
        return "inconclusive"
    if exact:
        return "holds" if ci_low > 0 else "does not hold"
    if ci_low > 0:
        return "holds"
    if ci_high < 0:
        return "does not hold"
    return "inconclusive"


def compare(a: Measurements, b: Measurements, *, chapter: str, claim: str, source: str, dataset: str,
            classes: int, paper: str, kind: str = "greater", margin: float | None = None,
            ours: str | None = None, if_not: str = "", digits: int = 1,
            pooled_sd: tuple[float, int] | None = None, link: str = "") -> Claim:
    """The claim "``a`` beats ``b``" (or "``a`` performs like ``b``" for ``kind="equivalent"``)
    decided from paired measurements. ``ours`` defaults to both sides' ``mean ± std``;
    ``if_not``: the property of our regime that explains a claim that does not hold, added
    to the note unless it holds."""
    interval = paired_interval(a, b, pooled_sd=pooled_sd)
    verdict = decide(kind, interval.low, interval.high, margin)
    if ours is None:
        ours = f"{a.summary(digits)} vs {b.summary(digits)}"
    note = ""
    if verdict == "inconclusive" and kind != "control":
        note = f"the 95 % interval contains {'the margin' if kind == 'equivalent' else '0'}"
        note += f"; {if_not}" if if_not else ""
    elif verdict == "does not hold":
        note = if_not
    elif kind == "control" and verdict != "inconclusive":
        note = "a false verdict of the procedure (the two sides are the same method)"
    return Claim(chapter, claim, source, dataset, int(classes), kind, paper, ours, round(interval.effect, 4),
                 round(interval.low, 4), round(interval.high, 4), margin, interval.seeds, verdict, note, link)


def paper_number(value) -> str:
    """A number of a paper's table as printed (two decimals), a dash when the paper gives none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def claim_table(claims: Iterable[Claim], with_link: bool = False) -> pd.DataFrame:
    """The claims as a table with :data:`CLAIM_COLUMNS` (and ``link`` if asked)."""
    columns = list(CLAIM_COLUMNS) + (["link"] if with_link else [])
    return pd.DataFrame([asdict(c) for c in claims], columns=list(CLAIM_COLUMNS) + ["link"])[columns]


def write_claims_csv(claims: Iterable[Claim], path: str | Path) -> Path:
    """Write the claim table to ``path`` (UTF-8 CSV, :data:`CLAIM_COLUMNS`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    claim_table(claims).to_csv(path, index=False)
    return path


def false_holds_rate(seeds: int = 5, trials: int = 4000, seed_sd: float = 1.0, test_sd: float = 0.5,
                     resamples: int = 200, seed: int = 0) -> dict[str, float]:
    """The share of no-difference comparisons that :func:`compare`'s rule calls "holds" (and
    "does not hold"), simulated: two methods with the same true score, per-seed scores with
    standard deviation ``seed_sd``, a test-set error shared by every run on the test split
    (``test_sd``) whose bootstrap replicates have that spread, plus run-specific test noise.

    >>> rate = false_holds_rate(trials=500)
    >>> rate["holds"] < 0.05
    True
    """
    rng = np.random.default_rng(seed)
    counts = {"holds": 0, "does not hold": 0}
    seeds_of = tuple(range(seeds))
    for _ in range(trials):
        shared = rng.normal(0, test_sd, size=resamples)  # the test split's error, seen by both
        sides = []
        for _side in range(2):
            runs = rng.normal(0, seed_sd, size=seeds)
            replicates = runs[:, None] + shared[None, :] + rng.normal(0, test_sd / 2, size=(seeds, resamples))
            sides.append(Measurements(runs, replicates, seeds_of))
        interval = paired_interval(*sides)
        verdict = decide("greater", interval.low, interval.high)
        if verdict in counts:
            counts[verdict] += 1
    return {verdict: count / trials for verdict, count in counts.items()}


def claim_view(claims: Iterable[Claim], columns: tuple[str, ...] = ("claim", "dataset", "paper", "ours", "effect",
                                                                     "verdict", "note")):
    """The claims for display on a chapter page: one row each, the effect written with its
    95 % interval (``+2.1 [0.4, 3.8]``, with the margin for an equivalence claim), no index."""
    table = claim_table(claims)
    interval = [f"{e:+.2f} [{lo:.2f}, {hi:.2f}]" + (f" (margin ±{m:g})" if pd.notna(m) else "")
                for e, lo, hi, m in zip(table["effect"], table["ci_low"], table["ci_high"], table["margin"])]
    table["effect"] = interval
    # no per-cell ids and one table-wide rule: a per-cell style would list every cell's id in
    # the page's CSS (a chapter's claims weighed 53 kB as HTML that way, 2 cell ids per value)
    return (Styler(table[list(columns)], cell_ids=False).hide(axis="index")
            .set_table_styles([{"selector": "td, th", "props": [("text-align", "left")]}]))
