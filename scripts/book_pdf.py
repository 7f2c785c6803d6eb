"""The whole book as one PDF, built offline with its math typeset.

Jupyter Book builds the book as a single HTML page (``--builder singlehtml``), reusing the
execution cache of the HTML build (``execute.cache`` in ``_config.yml``, by default
``_build/.jupyter_cache``): a notebook that the HTML build executed is not executed again.
Headless Chromium (Debian's ``chromium``, or ``$MLTEACH_CHROMIUM``) then opens that page with
every non-local request blocked, waits until MathJax (vendored, no CDN) has typeset every
formula, opens every collapsed solution, lays the page out at the printed width (long code
lines wrap; a display formula wider than the page is scaled down to fit, since paper cannot
scroll it), and prints it to A4::

    python scripts/book_pdf.py                 # -> _build/pdf/mlteach.pdf, copied to _build/html/
    python scripts/book_pdf.py --book DIR --pdf out.pdf

``scripts/build_pdf.sh`` runs it in the project's environment.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "mlteach.pdf"
MARGIN_MM = 15
#: The width Chromium lays an A4 page out at: 210 mm less both margins, at 96 CSS pixels per inch.
PRINTED_WIDTH_PX = round((210 - 2 * MARGIN_MM) / 25.4 * 96)

#: Print styles: only the book's content, solutions open, no buttons or navigation.
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-content, .header-article,
.prev-next-area, .headerlink, .toggle-button, .bd-header-announcement, .skip-link, #pst-back-to-top
  { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-page-width { max-width: 100% !important; width: 100% !important;
  padding: 0 !important; margin: 0 !important; }
.admonition.toggle-hidden .admonition-title ~ *, .toggle-details__summary ~ *
  { height: auto !important; opacity: 1 !important; visibility: visible !important; display: block !important;
    margin: 0.5em 0 !important; }
details > summary { list-style: none; }
pre, .cell_input, .cell_output, figure, table, mjx-container[display="true"] { break-inside: avoid; }
pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
h1, h2, h3, h4 { break-inside: avoid; break-after: avoid; }
"""

#: Scales each display formula wider than its box down to the box's width; returns how many.
FIT_WIDE_FORMULAS = """() => {
  const wide = [...document.querySelectorAll('mjx-container[display="true"]')]
    .filter(e => e.scrollWidth > e.clientWidth + 1);
  wide.forEach(e => { e.style.zoom = e.clientWidth / e.scrollWidth; });
  return wide.length;
}"""

#: Formulas, code and outputs that would still be cut off at the page's right edge.
CUT_OFF = """() => [...document.querySelectorAll('mjx-container[display="true"], pre, .cell_output, .table-wrapper')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).length"""


@dataclass(frozen=True)
class PrintedBook:
    """What was printed: the PDF, its page count, the formulas MathJax typeset, and how many
    display formulas were scaled down to the page's width."""

    pdf: Path
    pages: int
    formulas: int
    shrunk: int


def build_single_page(book: Path) -> tuple[Path, int]:
    """Build ``book`` with the singlehtml builder (executed notebooks come from the execution
    cache when they are in it); returns the page and how many notebooks were executed."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", "--builder", "singlehtml",
               "--keep-going", str(book)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=book)  # the cache path is relative to it
    if done.returncode != 0:
        raise RuntimeError(f"the single-page build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    root = yaml.safe_load((book / "_toc.yml").read_text())["root"]  # index.html only redirects to it
    built = book / "_build" / "singlehtml" / f"{Path(root).with_suffix('')}.html"
    if not built.exists():
        raise RuntimeError(f"the single-page build wrote no {built}")
    page = book / "_build" / "singlehtml" / "book.html"  # its links are relative to the build root: print it there
    shutil.copy(built, page)
    return page, len(re.findall(r"Executing notebook", done.stdout + done.stderr))


def count_pages(pdf: Path) -> int:
    """The number of pages of a PDF (its ``/Type /Page`` objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))


def _chromium() -> str:
    executable = os.environ.get("MLTEACH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError("no Chromium found: install Debian's chromium (apt-get install chromium) or set "
                           "MLTEACH_CHROMIUM to a Chromium executable")
    return executable


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_pdf(page: Path, pdf: Path, screenshot: Path | None = None) -> PrintedBook:
    """Print the HTML ``page`` (and the files next to it) to ``pdf`` with headless Chromium,
    offline, after MathJax has typeset every formula and every wide formula has been fitted to
    the printed width; optionally a PNG of the first screen in print layout."""
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(page.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=_chromium(), headless=True,
                                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            tab = browser.new_page()
            tab.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname in
                      ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")) else route.abort())
            tab.goto(url, wait_until="load", timeout=300_000)
            tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=120_000)
            tab.evaluate("() => MathJax.startup.promise")
            formulas = tab.evaluate("() => document.querySelectorAll('mjx-container').length")
            raw = tab.evaluate("() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length")
            if raw:
                raise RuntimeError(f"{raw} formulas were left untypeset by MathJax")
            tab.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            tab.add_style_tag(content=PRINT_CSS)
            tab.emulate_media(media="print")
            hidden = tab.evaluate("""() => [...document.querySelectorAll('.admonition-title ~ *, details > *')]
                .filter(e => { const s = getComputedStyle(e); return s.visibility === 'hidden' || s.opacity === '0'; })
                .length""")
            if hidden:
                raise RuntimeError(f"{hidden} parts of collapsed blocks would not be printed")
            tab.set_viewport_size({"width": PRINTED_WIDTH_PX, "height": round(PRINTED_WIDTH_PX * 297 / 210)})
            shrunk = tab.evaluate(FIT_WIDE_FORMULAS)
            cut_off = tab.evaluate(CUT_OFF)
            if cut_off:
                raise RuntimeError(f"{cut_off} formulas, code blocks or outputs are wider than the printed page "
                                   f"({PRINTED_WIDTH_PX} px) and would be cut off")
            if screenshot is not None:  # the first page's worth, at the printed width
                tab.screenshot(path=str(screenshot))
            pdf.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(path=str(pdf), format="A4", print_background=True, display_header_footer=True,
                    header_template="<span></span>",
                    footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                                    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                    margin={side: f"{MARGIN_MM}mm" for side in ("top", "bottom", "left", "right")})
            browser.close()
    finally:
        server.shutdown()
    return PrintedBook(pdf, count_pages(pdf), formulas, shrunk)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", type=Path, default=ROOT, help="the book's folder (default: the repository)")
    parser.add_argument("--pdf", type=Path, help="the PDF to write (default: <book>/_build/pdf/mlteach.pdf)")
    parser.add_argument("--screenshot", type=Path, help="also save the first screen in print layout as a PNG")
    args = parser.parse_args(argv)
    pdf = args.pdf or args.book / "_build" / "pdf" / PDF_NAME
    page, executed = build_single_page(args.book)
    print(f"single-page build: {executed} notebook(s) executed, the rest from the execution cache")
    printed = print_pdf(page, pdf, args.screenshot)
    site = args.book / "_build" / "html"
    if site.is_dir():  # published with the site, next to index.html
        shutil.copy(printed.pdf, site / PDF_NAME)
    print(f"{printed.pdf}: {printed.pages} pages, {printed.formulas} formulas typeset "
          f"({printed.shrunk} wide ones scaled down to the page's width)")


if __name__ == "__main__":
    main()
