"""The claim table as a reader uses it: one self-contained ``text/html`` block, no kernel.

:func:`claim_table_view` turns the claim table (one row per claim of a paper, with our
measurement and the verdict; the columns :data:`COLUMNS`, plus an optional ``link``) into an
HTML block with its own style and a few lines of inline JavaScript, like the explorers of
:mod:`mlteach.explore`. It needs no kernel, no network and no library, and shows:

- an overview: per chapter, a small bar stacked by verdict with the counts, linking to the
  chapter's rows;
- the rows grouped by chapter; each claim links to the section of its chapter that measures
  it (``link``); the verdict is coloured, with a legend that explains each colour, and the A/A
  controls (kind ``control``) are marked apart;
- columns sortable by a click on their header (within each chapter), a text filter and a
  verdict filter, and a count of the rows shown;
- a link to the CSV file of the same table;
- columns where there is room, cards where there is not (a phone, or the book's text column:
  a CSS container query on the block's own width), and the page's light or dark colours.
"""

from __future__ import annotations

import html
import itertools
import json
import math

import pandas as pd

from mlteach.reproduce.claims import CLAIM_COLUMNS

__all__ = ["COLUMNS", "VERDICTS", "ClaimTableView", "claim_table_view"]

#: The claim table's columns, in order (``link``, the section that measures a claim, is optional).
COLUMNS = CLAIM_COLUMNS
#: Each verdict and what it means, in the order of the legend and the bars.
VERDICTS = {
    "holds": "our 95 % interval agrees with the paper's claim",
    "does not hold": "our 95 % interval contradicts the claim",
    "inconclusive": "the interval cannot decide (it contains 0, or the equivalence margin)",
}
CONTROL = "control"
CONTROL_MEANING = ("an A/A check: a method against itself on other seeds; it should come out "
                   "inconclusive, and any other verdict is a false verdict of the procedure")
NONE_TEXT = "\u2014"  # an em dash where there is no number

_views_made = itertools.count()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _text(value) -> str:
    """A cell as text: a dash for a missing value (never "NaN")."""
    return NONE_TEXT if _missing(value) or str(value) == "" else str(value)


def _number(value, digits: int = 2) -> str:
    return NONE_TEXT if _missing(value) else f"{float(value):.{digits}f}"


def _interval_text(row) -> str:
    text = f"{_number(row.effect, 2)} [{_number(row.ci_low, 2)}, {_number(row.ci_high, 2)}]"
    if row.kind == "equivalent" and not _missing(row.margin):
        text += f" within \u00b1{_number(row.margin, 2)}"
    return text


def _check(claims: pd.DataFrame) -> None:
    if not isinstance(claims, pd.DataFrame):
        raise ValueError(f"claim_table_view: claims must be a pandas DataFrame, got "
                         f"{type(claims).__name__}")
    columns = [c for c in claims.columns if c != "link"]
    if tuple(columns) != COLUMNS:
        missing = [c for c in COLUMNS if c not in claims.columns]
        extra = [c for c in columns if c not in COLUMNS]
        raise ValueError(f"claim_table_view: the columns must be exactly {list(COLUMNS)} (in this "
                         f"order) plus an optional 'link'; missing {missing}, unexpected {extra}"
                         + ("" if missing or extra else f", got the order {columns}"))
    unknown = sorted(set(claims["verdict"]) - set(VERDICTS))
    if unknown:
        raise ValueError(f"claim_table_view: unknown verdicts {unknown}; a verdict is one of "
                         f"{list(VERDICTS)}")


_STYLE = """
.mct{--mct-fg:var(--pst-color-text-base,var(--jp-content-font-color1,#222));
--mct-muted:var(--pst-color-text-muted,#666);--mct-line:var(--pst-color-border,rgba(128,128,128,.35));
--mct-surface:var(--pst-color-surface,rgba(128,128,128,.08));--mct-link:var(--pst-color-link,#0b5cad);
--mct-holds:#1a7f37;--mct-holds-bg:#dafbe1;--mct-fails:#b3261e;--mct-fails-bg:#ffe1dc;
--mct-open:#7a5b00;--mct-open-bg:#fff2c2;--mct-control:#5a4fcf;--mct-control-bg:#ebe8ff;
color:var(--mct-fg);font-size:.9rem;margin:.5em 0 1.5em;max-width:100%;container:mct/inline-size}
html[data-theme=dark] .mct,body[data-jp-theme-light=false] .mct{
--mct-holds:#7ee2a0;--mct-holds-bg:#143d24;--mct-fails:#ffb4a8;--mct-fails-bg:#4d1a14;
--mct-open:#f3d36b;--mct-open-bg:#3d3310;--mct-control:#c5bdff;--mct-control-bg:#2c2752}
html[data-theme=dark] .bd-content div.cell_output div.text_html:has(>div.mct){
background-color:transparent;color:inherit;padding:0}
.mct a{color:var(--mct-link)}
.mct .mct-legend{display:flex;flex-wrap:wrap;gap:.4em 1.2em;margin:.3em 0 .8em;padding:0;list-style:none}
.mct .mct-legend li{margin:0;max-width:26em;color:var(--mct-muted)}
.mct .mct-chip{display:inline-block;border-radius:.8em;padding:.05em .55em;font-weight:600;white-space:nowrap;
border:1px solid currentColor}
.mct .mct-holds{color:var(--mct-holds);background:var(--mct-holds-bg)}
.mct .mct-does-not-hold{color:var(--mct-fails);background:var(--mct-fails-bg)}
.mct .mct-inconclusive{color:var(--mct-open);background:var(--mct-open-bg)}
.mct .mct-kind-control{color:var(--mct-control);background:var(--mct-control-bg)}
.mct .mct-overview{list-style:none;padding:0;margin:0 0 1em;display:grid;gap:.35em;
grid-template-columns:minmax(8em,max-content) minmax(6em,16em) 1fr;align-items:center}
.mct .mct-overview li{display:contents}
.mct .mct-bar{display:flex;height:.9em;border-radius:.2em;overflow:hidden;border:1px solid var(--mct-line)}
.mct .mct-bar span{display:block;height:100%;border:0;border-radius:0;padding:0}
.mct .mct-bar .mct-holds{background:var(--mct-holds)}.mct .mct-bar .mct-does-not-hold{background:var(--mct-fails)}
.mct .mct-bar .mct-inconclusive{background:var(--mct-open)}
.mct .mct-counts{color:var(--mct-muted);font-variant-numeric:tabular-nums}
.mct .mct-tools{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;margin:.5em 0}
.mct .mct-tools input,.mct .mct-tools select{font:inherit;color:inherit;background:transparent;
border:1px solid var(--mct-line);border-radius:.3em;padding:.2em .4em}
.mct .mct-tools input{min-width:14em;flex:1 1 14em;max-width:28em}
.mct .mct-tools select option{color:#222;background:#fff}
.mct .mct-shown{color:var(--mct-muted);font-variant-numeric:tabular-nums}
.mct table{border-collapse:collapse;width:100%;table-layout:auto;margin:0}
.mct th,.mct td{text-align:left;vertical-align:top;padding:.35em .5em;border-bottom:1px solid var(--mct-line)}
.mct thead th{position:sticky;top:0;background:var(--pst-color-background,var(--jp-layout-color0,#fff));z-index:1}
.mct th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;cursor:pointer}
.mct th button::after{content:" \\2195";color:var(--mct-muted)}
.mct th[aria-sort=ascending] button::after{content:" \\2191"}.mct th[aria-sort=descending] button::after{content:" \\2193"}
.mct tr.mct-group th{background:var(--mct-surface);font-size:1rem;padding-top:.6em}
.mct tr.mct-group .mct-bar{display:inline-flex;width:8em;vertical-align:middle;margin:0 .6em}
.mct td.mct-num{font-variant-numeric:tabular-nums;white-space:nowrap}
.mct .mct-source{display:block;color:var(--mct-muted);font-size:.85em}
.mct td.mct-note{color:var(--mct-muted);min-width:12em}
.mct td.mct-claim{min-width:14em}.mct td.mct-text{min-width:8em}
.mct tr[hidden]{display:none}
@container mct (max-width:62rem){
.mct table,.mct tbody,.mct thead,.mct tr.mct-group,.mct tr.mct-group th{display:block}
.mct thead tr{display:flex;flex-wrap:wrap;gap:.2em 1em;align-items:center}
.mct thead tr::before{content:"Sort by:";color:var(--mct-muted)}
.mct thead th{position:static;border:0;padding:0;background:none}.mct thead th:not([data-sort]){display:none}
.mct tr.mct-group th{border:0;border-radius:.4em;margin-top:1em}
.mct tr.mct-row{display:flex;flex-wrap:wrap;align-items:baseline;gap:.15em 1.2em;
border:1px solid var(--mct-line);border-radius:.4em;margin:.5em 0;padding:.4em .6em}
.mct tr.mct-row td{display:block;border:0;padding:0;min-width:0;flex:1 1 100%}
.mct tr.mct-row td.mct-claim{flex:1 1 60%;order:0}
.mct tr.mct-row td.mct-verdict{flex:0 0 auto;order:1;margin-left:auto}
.mct tr.mct-row td.mct-short{flex:0 1 auto;order:2}
.mct tr.mct-row td.mct-text{flex:1 1 40%;order:3}
.mct tr.mct-row td.mct-note{order:4}.mct tr.mct-row td.mct-empty{display:none}
.mct tr.mct-row td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:var(--mct-muted)}
.mct tr.mct-row td.mct-verdict::before{display:none}
}
@container mct (max-width:34rem){
.mct tr.mct-row td.mct-verdict{flex:1 1 100%;margin-left:0}
.mct .mct-overview{grid-template-columns:minmax(6em,max-content) minmax(5em,1fr)}
.mct .mct-overview .mct-counts{grid-column:1/-1;margin-bottom:.3em}}
""".replace("\n", "")

# Filters (text and verdict), sorting within each chapter, and the counts of rows shown.
_SCRIPT = """(function(){
var s=document.currentScript,root=s&&s.closest?s.closest(".mct"):document.getElementById(%(id)s);
var text=root.querySelector("input.mct-filter"),verdict=root.querySelector("select.mct-verdict"),
shown=root.querySelector(".mct-shown"),bodies=root.querySelectorAll("tbody"),
rows=root.querySelectorAll("tr.mct-row"),heads=root.querySelectorAll("th[data-sort]");
function apply(){var q=text.value.trim().toLowerCase(),v=verdict.value,n=0;
for(var i=0;i<rows.length;i++){var r=rows[i],ok=(!q||r.textContent.toLowerCase().indexOf(q)>=0)&&
(!v||(v==="control"?r.dataset.kind==="control":r.dataset.verdict===v));r.hidden=!ok;if(ok)n++;}
for(i=0;i<bodies.length;i++){var b=bodies[i],k=b.querySelectorAll("tr.mct-row:not([hidden])").length;
b.querySelector("tr.mct-group").hidden=k===0;b.querySelector(".mct-group-shown").textContent=
k+" of "+b.querySelectorAll("tr.mct-row").length;}
shown.textContent=n+" of "+rows.length+" claims shown";}
function sortBy(th){var key=th.dataset.sort,numeric=th.dataset.type==="number",
dir=th.getAttribute("aria-sort")==="ascending"?-1:1;
for(var i=0;i<heads.length;i++)heads[i].removeAttribute("aria-sort");
th.setAttribute("aria-sort",dir>0?"ascending":"descending");
for(i=0;i<bodies.length;i++){var b=bodies[i],list=Array.prototype.slice.call(b.querySelectorAll("tr.mct-row"));
list.sort(function(x,y){var a=x.dataset[key],c=y.dataset[key];
if(numeric){a=a===""?Infinity:+a;c=c===""?Infinity:+c;return a===c?0:(a<c?-dir:dir);}
return dir*a.localeCompare(c);});list.forEach(function(r){b.appendChild(r);});}}
text.addEventListener("input",apply);verdict.addEventListener("change",apply);
for(var i=0;i<heads.length;i++)heads[i].querySelector("button").addEventListener("click",
function(e){sortBy(e.currentTarget.closest("th"));});
apply();})();"""

# (header, data key used to sort, numeric?) of the sortable columns, in display order.
_HEADERS = [("Claim", "claim", False), ("Data", "dataset", False), ("Paper", None, False),
            ("Ours", None, False), ("Effect [95 % CI]", "effect", True), ("Seeds", "seeds", True),
            ("Verdict", "verdict", False), ("Note", None, False)]


class ClaimTableView:
    """The HTML block of a claim table; a notebook cell whose value it is shows it. ``html``
    holds the block itself (for a test or a static page)."""

    def __init__(self, html_block: str, rows: int):
        self.html = html_block
        self.rows = rows

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"ClaimTableView({self.rows} claims)"


def _bar(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    spans = "".join(
        f'<span class="mct-{_slug(v)}" style="width:{100 * n / total:.2f}%" title="{n} {html.escape(v)}">'
        "</span>" for v, n in counts.items() if n)
    label = ", ".join(f"{n} {v}" for v, n in counts.items())
    return f'<span class="mct-bar" role="img" aria-label="{html.escape(label)}">{spans}</span>'


def _counts_text(counts: dict[str, int], controls: int) -> str:
    text = " \u00b7 ".join(f"{n} {v}" for v, n in counts.items())
    return text + (f" (of which {controls} A/A control{'s' if controls != 1 else ''})" if controls else "")


def _row_html(row, has_link: bool) -> str:
    esc = html.escape
    claim = esc(_text(row.claim))
    if has_link and not _missing(row.link) and str(row.link):
        claim = f'<a href="{esc(str(row.link), quote=True)}">{claim}</a>'
    kind = str(row.kind)
    kind_chip = (f' <span class="mct-chip mct-kind-control">{CONTROL}</span>' if kind == CONTROL
                 else f' <span class="mct-kind">{esc(kind)}</span>')
    sort_data = {
        "claim": _text(row.claim), "dataset": f"{_text(row.dataset)} {_text(row.classes)}",
        "effect": "" if _missing(row.effect) else repr(float(row.effect)),
        "seeds": "" if _missing(row.seeds) else str(int(row.seeds)),
        "verdict": str(row.verdict),
    }
    attributes = "".join(f' data-{k}="{esc(v, quote=True)}"' for k, v in sort_data.items())
    classes = "" if _missing(row.classes) else f", {int(row.classes)} classes"
    return (f'<tr class="mct-row" data-kind="{esc(kind)}"{attributes}>'
            f'<td class="mct-claim">{claim}<span class="mct-source">{esc(_text(row.source))}</span></td>'
            f'<td class="mct-short" data-label="Data">{esc(_text(row.dataset))}{classes}</td>'
            f'<td class="mct-text" data-label="Paper">{esc(_text(row.paper))}</td>'
            f'<td class="mct-text" data-label="Ours">{esc(_text(row.ours))}</td>'
            f'<td class="mct-num mct-short" data-label="Effect [95 % CI]">{esc(_interval_text(row))}</td>'
            f'<td class="mct-num mct-short" data-label="Seeds">{esc(_text(row.seeds))}</td>'
            f'<td class="mct-verdict" data-label="Verdict"><span class="mct-chip mct-{_slug(str(row.verdict))}">'
            f'{esc(str(row.verdict))}</span>{kind_chip}</td>'
            f'<td class="mct-note{" mct-empty" if _text(row.note) == NONE_TEXT else ""}" data-label="Note">'
            f'{esc(_text(row.note))}</td></tr>')


def claim_table_view(claims: pd.DataFrame, csv_url: str, *,
                     title: str = "Every claim and its verdict") -> ClaimTableView:
    """The claim table ``claims`` (columns :data:`COLUMNS`, optional ``link``) as one
    self-contained HTML block, with a link to the same table as CSV at ``csv_url`` (a URL
    relative to the page). Chapters keep the order of their first row.

    >>> row = dict(chapter="2. Two-way", claim="two-way beats BCE", source="Table 1",
    ...            dataset="mosaics", classes=10, kind="greater", paper="+1.2", ours="+0.8",
    ...            effect=0.8, ci_low=0.3, ci_high=1.3, margin=float("nan"), seeds=5,
    ...            verdict="holds", note="")
    >>> view = claim_table_view(pd.DataFrame([row]), "claims.csv")
    >>> view
    ClaimTableView(1 claims)
    >>> "0.80 [0.30, 1.30]" in view.html and 'href="claims.csv"' in view.html
    True
    """
    _check(claims)
    esc = html.escape
    has_link = "link" in claims.columns
    element_id = f"mct-{next(_views_made)}"
    chapters = list(dict.fromkeys(claims["chapter"].astype(str)))

    overview, bodies = [], []
    for k, chapter in enumerate(chapters):
        rows = claims[claims["chapter"].astype(str) == chapter]
        counts = {v: int((rows["verdict"] == v).sum()) for v in VERDICTS}
        controls = int((rows["kind"] == CONTROL).sum())
        anchor = f"{element_id}-ch{k}"
        overview.append(f'<li><a href="#{anchor}">{esc(chapter)}</a>{_bar(counts)}'
                        f'<span class="mct-counts">{esc(_counts_text(counts, controls))}</span></li>')
        bodies.append(
            f'<tbody><tr class="mct-group" id="{anchor}"><th colspan="{len(_HEADERS)}" scope="rowgroup">'
            f'{esc(chapter)}{_bar(counts)}<span class="mct-group-shown mct-counts">{len(rows)} of '
            f'{len(rows)}</span></th></tr>'
            + "".join(_row_html(row, has_link) for row in rows.itertuples(index=False))
            + "</tbody>")

    legend = "".join(f'<li><span class="mct-chip mct-{_slug(v)}">{esc(v)}</span> {esc(meaning)}</li>'
                     for v, meaning in VERDICTS.items())
    legend += (f'<li><span class="mct-chip mct-kind-control">{CONTROL}</span> '
               f'{esc(CONTROL_MEANING)}</li>')
    options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in VERDICTS)
    options += f'<option value="{CONTROL}">A/A controls</option>'
    headers = "".join(
        f'<th scope="col" data-sort="{key}" data-type="{"number" if numeric else "text"}">'
        f'<button type="button">{esc(name)}</button></th>' if key else f'<th scope="col">{esc(name)}</th>'
        for name, key, numeric in _HEADERS)
    block = (
        f'<div class="mct" id="{element_id}" role="region" aria-labelledby="{element_id}-title">'
        f'<style>{_STYLE}</style>'
        f'<p class="mct-title" id="{element_id}-title"><strong>{esc(title)}</strong>: {len(claims)} '
        f'claims in {len(chapters)} chapters. <a href="{esc(csv_url, quote=True)}" download>'
        f'Download the table (CSV)</a></p>'
        f'<ul class="mct-legend">{legend}</ul>'
        f'<ul class="mct-overview" aria-label="Verdicts per chapter">{"".join(overview)}</ul>'
        f'<div class="mct-tools"><label>Filter <input class="mct-filter" type="search" '
        f'placeholder="words in any column" aria-controls="{element_id}-table"></label>'
        f'<label>Verdict <select class="mct-verdict" aria-controls="{element_id}-table">'
        f'<option value="">all</option>{options}</select></label>'
        f'<span class="mct-shown" aria-live="polite">{len(claims)} of {len(claims)} claims shown</span></div>'
        f'<table id="{element_id}-table"><thead><tr>{headers}</tr></thead>{"".join(bodies)}</table>'
        f'<script>{_SCRIPT % {"id": json.dumps(element_id)}}</script></div>')
    return ClaimTableView(block, len(claims))
