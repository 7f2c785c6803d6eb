"""The student edition of the book.

- Every notebook page offers its *student notebook* (solutions removed, checker calls kept;
  see :mod:`mlteach.exercises.export`) in the download menu, next to the full ``.ipynb``; an
  exercise page also offers it in Colab.
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


def setup(app: Sphinx) -> dict:
    if os.environ.get("MLTEACH_STUDENT_EDITION") == "1":
        app.connect("source-read", remove_solutions)
    app.connect("html-page-context", add_student_notebook, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
