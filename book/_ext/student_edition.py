"""The student edition of the book.

- Every notebook page offers its *student notebook* (solutions removed, checker calls kept;
  see :mod:`mlteach.exercises.export`) in the download menu, next to the full ``.ipynb``; an
  exercise page also offers it in Colab.
- On every page of the full edition the menu's PDF entry is the whole book (``mlteach.pdf``,
  printed by ``scripts/build_pdf.sh``), not the print of one page.
- ``MLTEACH_STUDENT_EDITION=1`` builds the book with every solution removed from the sources
  as they are read (the same rule as the student notebooks; sphinx-exercise's own
  ``hide_solutions`` leaves gated solutions' content on the page); ``scripts/build_book.sh
  --student`` sets it and builds into ``_build/student/_build/html``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from sphinx.application import Sphinx

from mlteach.exercises.export import strip_solutions, student_notebook
from mlteach.exercises.publishing import Publication

FOLDER = "student-notebooks"
WHOLE_BOOK_PDF = "mlteach.pdf"  # written next to index.html by scripts/book_pdf.py


def remove_solutions(app: Sphinx, docname: str, source: list[str]) -> None:
    source[0] = strip_solutions(source[0], str(app.env.doc2path(docname)))


def add_student_notebook(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".md" or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    target = Path(app.outdir) / FOLDER / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_notebook(source), target)
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].insert(1, {
                "type": "link",
                "url": context["pathto"](f"{FOLDER}/{pagename}.ipynb", 1),
                "text": "student .ipynb",
                "tooltip": "Download the notebook without solutions",
                "icon": "fas fa-graduation-cap",
                "label": "download-student-notebook-button",
            })
            if pagename.endswith("_exercises"):  # exported and published on the student-notebooks branch
                colab = Publication.from_config(Path(app.confdir) / "_config.yml").colab_url(f"{Path(pagename).name}.ipynb")
                button["buttons"].insert(2, {"type": "link", "url": colab, "text": "Colab",
                                             "tooltip": "Open the student notebook in Colab", "icon": "fas fa-rocket",
                                             "label": "colab-student-notebook-button"})


def link_whole_book_pdf(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """On every page, the download menu's PDF entry becomes a link to the whole book's PDF
    instead of printing the page."""
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            for entry in button["buttons"]:
                if entry.get("label") == "download-pdf-button":
                    entry.update(type="link", url=context["pathto"](WHOLE_BOOK_PDF, 1), text="book .pdf",
                                 tooltip="Download the whole book as a PDF")
                    entry.pop("javascript", None)


def setup(app: Sphinx) -> dict:
    if os.environ.get("MLTEACH_STUDENT_EDITION") == "1":
        app.connect("source-read", remove_solutions)
    else:  # the whole book's PDF carries the solutions: the student edition keeps the page print
        app.connect("html-page-context", link_whole_book_pdf, priority=900)
    app.connect("html-page-context", add_student_notebook, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
