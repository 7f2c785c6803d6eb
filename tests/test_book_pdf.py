"""The whole-book PDF (scripts/book_pdf.py), on a small book built with the real configuration:
one command, offline, math typeset, collapsed solutions printed, and the execution cache of an
earlier HTML build reused (no notebook executed twice)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("book_pdf", ROOT / "scripts" / "book_pdf.py")
book_pdf = importlib.util.module_from_spec(_spec)
sys.modules["book_pdf"] = book_pdf  # dataclasses look their module up
_spec.loader.exec_module(book_pdf)

HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
"""
INTRO = "# A small book\n\nThe logistic function $\\sigma(x) = 1 / (1 + e^{-x})$.\n"
CHAPTER = HEADER + r"""
# A chapter

$$
\frac{\partial}{\partial x}\operatorname{softplus}(x) = \sigma(x)
$$

```{code-cell} ipython3
print("computed", 6 * 7)
```

A sum too wide for the printed page, and a code line as wide:

$$
WIDE_SUM
$$

```{code-cell} ipython3
terms = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9}
```

:::{prf:proposition} A SHIFTED LOGIT
:label: prop-small-shift

$\operatorname{softplus}(x) - \operatorname{softplus}(-x) = x$ for every real $x$.
:::

:::{prf:proof}
THE PROOF subtracts $\log(1 + e^{-x})$ from $\log(1 + e^{x}) = x + \log(1 + e^{-x})$.
:::

{prf:ref}`prop-small-shift` is used below.

:::{exercise}
:label: ex-small
Differentiate $\log(1 + e^{x})$.
:::

```{solution-start} ex-small
:class: dropdown
```
THE COLLAPSED SOLUTION is $\sigma(x)$.
```{solution-end}
```
""".replace("WIDE_SUM", " + ".join(f"\\frac{{x_{{{i}}}}}{{1 + e^{{-x_{{{i}}}}}}}" for i in range(1, 31)))

PDF_ENTRY = re.compile(r'<a href="([^"]*)"[^>]*class="[^"]*btn-download-pdf-button')


def small_book(tmp_path: Path) -> Path:
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext")
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    (book / "node_modules").symlink_to(ROOT / "node_modules")
    (book / "_assets").mkdir()
    for asset in ("mathjax2-shim.js", "widgets-requirejs-config.js"):
        shutil.copy(ROOT / "_assets" / asset, book / "_assets")
    (book / "_toc.yml").write_text("format: jb-book\nroot: front/intro\nchapters:\n  - file: chapter\n")
    (book / "front").mkdir()
    (book / "front" / "intro.md").write_text(INTRO)  # the root in a folder, as the book's book/intro
    (book / "chapter.md").write_text(CHAPTER)
    return book


@pytest.mark.slow
def test_the_pdf_of_a_small_book_reuses_the_execution_cache_and_typesets_the_math(tmp_path):
    book = small_book(tmp_path)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    html = subprocess.run([str(jupyter_book), "build", "-W", "-n", "--keep-going", str(book)],
                          capture_output=True, text=True, timeout=600, cwd=book)
    assert html.returncode == 0, html.stdout[-3000:] + html.stderr[-3000:]
    assert (book / "_build" / ".jupyter_cache").is_dir()
    site = book / "_build" / "html"
    for built in (site / "front" / "intro.html", site / "chapter.html"):  # every page's download menu
        html_text = built.read_text()
        entries = PDF_ENTRY.findall(html_text)
        assert len(entries) == 1, f"{built.name}: no link to the whole book's PDF in the download menu"
        assert (built.parent / entries[0]).resolve() == (site / book_pdf.PDF_NAME).resolve()  # where main() copies it
        assert "window.print()" not in html_text  # no more "print this page"

    page, executed = book_pdf.build_single_page(book)
    assert executed == 0  # the chapter's outputs come from the HTML build's execution cache
    text = page.read_text()
    assert "computed 42" in text and "THE COLLAPSED SOLUTION" in text
    # sphinx-proof's boxes as on the site: numbered and titled, the proof after it, the reference resolved
    assert '<span class="caption-number">Proposition 1 </span> (A SHIFTED LOGIT)' in text
    assert '<div class="proof admonition" id="proof">\n<p>Proof. THE PROOF subtracts' in text
    assert '<a class="reference internal" href="#prop-small-shift">Proposition 1</a> is used below' in text

    printed = book_pdf.print_pdf(page, tmp_path / "small.pdf", screenshot=tmp_path / "first.png")
    assert printed.pdf.read_bytes().startswith(b"%PDF")
    assert printed.pages >= 1 and printed.pages == book_pdf.count_pages(printed.pdf)
    assert printed.formulas >= 4  # inline and display math in both pages, and in the exercise and solution
    assert printed.shrunk == 1  # the wide sum, scaled to the page; print_pdf refuses to cut anything off
    assert (tmp_path / "first.png").stat().st_size > 0


def test_count_pages_counts_page_objects_not_the_page_tree(tmp_path):
    pdf = tmp_path / "two.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n"
                    b"3 0 obj << /Type/Page /Parent 1 0 R >>\n%%EOF\n")
    assert book_pdf.count_pages(pdf) == 2
