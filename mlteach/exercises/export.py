"""Student and instructor notebooks from the book's sources (one source of truth).

A page is a MyST Markdown notebook whose solutions sit between ``{solution-start}`` and
``{solution-end}`` directives (gated solutions, which may hold code cells) or inside a
``{solution}`` directive. Both editions are plain ``.ipynb`` files that open in any Jupyter
(JupyterLab, Notebook, VS Code, Colab) without jupytext or MyST:

- the *instructor* notebook is the page with its solutions;
- the *student* notebook is the page with every solution removed by
  :func:`~mlteach.exercises.solutions.strip_solutions` (which refuses, with file and line,
  anything it cannot delimit) and everything else kept, including the exercise statements and
  the checker calls, so a student runs the same cells.

Both start with a cell that installs ``mlteach`` when it is missing (Colab, a fresh Jupyter),
their markdown is converted to plain Markdown (:mod:`~mlteach.exercises.plain_markdown`:
cross-references become links to the published book, citations text, website-only ``{only}``
blocks are dropped), and the first cell links the published page and, for the student edition,
Colab. By default the chapters' exercise pages are exported; ``--chapters`` adds any other
page an instructor hands out::

    python -m mlteach.exercises.export --out _build/notebooks
    python -m mlteach.exercises.export --out _build/notebooks --chapters ch4_large_loss_derivation

writes ``student/<name>.ipynb``, ``instructor/<name>.ipynb`` and ``README.md`` (the list with
Colab links) under ``--out``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell

from .plain_markdown import BookIndex, Plainer
from .publishing import ROOT, Publication
from .solutions import REMOVED_NOTE, SolutionSyntaxError, strip_solutions

__all__ = ["student_notebook", "instructor_notebook", "export_notebooks", "exercise_pages", "install_cell",
           "strip_solutions", "SolutionSyntaxError", "REMOVED_NOTE", "KERNELSPEC"]

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
_INSTALL_TAG = "mlteach-install"


def _front_matter(text: str, path: str) -> dict:
    """The page's YAML front matter (``{}`` if it has none); a :class:`SolutionSyntaxError`
    naming the file and line when it is not valid YAML or never closed."""
    if not text.startswith("---\n"):
        return {}
    end = re.search(r"^---[ \t]*$", text[4:], re.MULTILINE)
    if end is None:
        raise SolutionSyntaxError(path, 1, "the front matter opened by --- is never closed by a --- line")
    try:
        data = yaml.safe_load(text[4:4 + end.start()])
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = 2 + mark.line if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SolutionSyntaxError(path, line, f"the front matter is not valid YAML: {problem}") from None
    if data is not None and not isinstance(data, dict):
        raise SolutionSyntaxError(path, 2, "the front matter is not a YAML mapping (key: value lines)")
    return data or {}


def _read(source: str | Path, text: str) -> nbformat.NotebookNode:
    """``text`` (the MyST source of ``source``) as a notebook without outputs, read as a MyST
    notebook whether or not it has a jupytext header."""
    _front_matter(text, str(source))
    notebook = jupytext.reads(text, fmt="md:myst")
    notebook.metadata.pop("jupytext", None)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("language_info", {"name": "python"})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def install_cell(publication: Publication) -> nbformat.NotebookNode:
    """The first code cell: install ``mlteach`` from the book's repository when it is missing."""
    source = (
        "# Installs mlteach (from the book's repository) only where it is missing, e.g. on Colab.\n"
        "import importlib.util, subprocess, sys\n"
        "\n"
        f'MLTEACH = "{publication.pip_requirement}"\n'
        'if importlib.util.find_spec("mlteach") is None:\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", MLTEACH], check=True)'
    )
    return new_code_cell(source, metadata={"tags": [_INSTALL_TAG]})


def _page(source: Path, root: Path) -> str:
    try:
        return source.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
    except ValueError:
        return f"notebooks/{source.stem}"


def _plain(notebook: nbformat.NotebookNode, source: Path, edition: str, publication: Publication,
           index: BookIndex, root: Path) -> nbformat.NotebookNode:
    page = _page(source, root)
    plainer = Plainer(page, publication, index)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = plainer.convert(cell.source)
            if not cell.source.strip():
                continue
        cells.append(cell)
    links = [f"[the book's page]({publication.page_url(page)})"]
    if edition == "student":
        links.append(f"[open in Colab]({publication.colab_url(source.stem + '.ipynb')})")
    header = new_markdown_cell(
        f"*{'Student' if edition == 'student' else 'Instructor'} notebook of the mlteach book: "
        f"{', '.join(links)}. Run the cells from the top; the first installs `mlteach` if it is missing.*")
    notebook.cells = [header, install_cell(publication), *cells]
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"{edition}-{number:03d}"  # stable ids: the same page exports to the same file
    return nbformat.from_dict(notebook)


def instructor_notebook(source: str | Path, publication: Publication | None = None,
                        index: BookIndex | None = None, root: Path = ROOT) -> nbformat.NotebookNode:
    """The page as a plain notebook with its solutions and without outputs."""
    source = Path(source)
    notebook = _read(source, source.read_text())
    return _plain(notebook, source, "instructor", publication or Publication.from_config(root / "_config.yml"),
                  index or BookIndex.of_book(root), root)


def student_notebook(source: str | Path, publication: Publication | None = None,
                     index: BookIndex | None = None, root: Path = ROOT) -> nbformat.NotebookNode:
    """The page as a plain notebook with every solution removed (text and code cells)."""
    source = Path(source)
    text = source.read_text()
    _front_matter(text, str(source))
    notebook = _read(source, strip_solutions(text, str(source)))
    return _plain(notebook, source, "student", publication or Publication.from_config(root / "_config.yml"),
                  index or BookIndex.of_book(root), root)


def exercise_pages(root: Path = ROOT, chapters: Iterable[str] = ()) -> list[Path]:
    """Every chapter's exercise page, then the pages named in ``chapters`` (a file name, with or
    without ``.md``, under ``notebooks/`` or ``book/``, or a path)."""
    pages = sorted((root / "notebooks").glob("*_exercises.md"))
    for name in chapters:
        candidates = [Path(name), root / name, root / "notebooks" / name, root / "book" / name]
        found = next((c.with_suffix(".md") for c in candidates if c.with_suffix(".md").is_file()), None)
        if found is None:
            raise FileNotFoundError(f"no page {name!r} under {root / 'notebooks'} or {root / 'book'}")
        if found.resolve() not in [page.resolve() for page in pages]:
            pages.append(found)
    return pages


def export_notebooks(sources: Iterable[str | Path], out_dir: str | Path, root: Path = ROOT) -> list[Path]:
    """Write ``student/`` and ``instructor/`` notebooks for every source and a ``README.md``
    listing them with their Colab links; returns the notebooks' paths."""
    out_dir = Path(out_dir)
    publication, index = Publication.from_config(root / "_config.yml"), BookIndex.of_book(root)
    written, rows = [], []
    for source in map(Path, sources):
        for edition, build in (("student", student_notebook), ("instructor", instructor_notebook)):
            target = out_dir / edition / f"{source.stem}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(build(source, publication, index, root), target)
            written.append(target)
        title = index.titles.get(_page(source, root), source.stem)
        rows.append(f"| {title} | [student/{source.stem}.ipynb](student/{source.stem}.ipynb) | "
                    f"[open in Colab]({publication.colab_url(source.stem + '.ipynb')}) | "
                    f"[instructor/{source.stem}.ipynb](instructor/{source.stem}.ipynb) |")
    (out_dir / "README.md").write_text(
        "# mlteach notebooks for a class\n\n| page | student notebook | Colab | instructor notebook |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="pages to export (default: every chapter's exercise page)")
    parser.add_argument("--chapters", nargs="*", default=[], help="further pages, by name (ch4_large_loss_derivation)")
    parser.add_argument("--out", default="_build/notebooks", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    sources = [Path(s) for s in args.sources] or exercise_pages(ROOT, args.chapters)
    if args.sources and args.chapters:
        sources += [p for p in exercise_pages(ROOT, args.chapters) if not p.stem.endswith("_exercises")]
    try:
        for path in export_notebooks(sources, args.out):
            print(path)
    except SolutionSyntaxError as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    main()
