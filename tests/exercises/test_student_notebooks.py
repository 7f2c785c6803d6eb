"""The exercise pages and their student notebooks: every exercise has a gated, collapsed
solution; the student notebook carries none of it; it runs, and its checker cells answer
"not implemented yet" for the stubs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from mlteach.exercises.export import REMOVED_NOTE, exercise_pages, export_notebooks, student_notebook
from mlteach.exercises.plain_markdown import MYST_LEFTOVERS
from mlteach.exercises.publishing import Publication

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "notebooks").glob("*_exercises.md"))
CHAPTERS = ["ch1_metrics_exercises", "ch1_numerics_exercises", "ch2_two_way_exercises", "ch3_dr_exercises", "ch4_large_loss_exercises", "ch5_em_exercises",
            "ch6_group_softmax_exercises"]
EXERCISE = re.compile(r"^:::\{exercise\}\n:label: (?P<label>\S+)", re.MULTILINE)
GATED = re.compile(r"^```\{solution-start\} (?P<label>\S+)\n:class: dropdown\n```", re.MULTILINE)


def test_every_chapter_has_its_exercise_page():
    assert [page.stem for page in PAGES] == CHAPTERS


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_exercise_has_a_gated_collapsed_solution_and_goals_come_first(page):
    text = page.read_text()
    labels = EXERCISE.findall(text)
    assert len(labels) >= 3
    assert GATED.findall(text) == labels
    assert text.count("{solution-end}") == len(labels)
    assert text.index("Learning goals") < text.index("{exercise}")
    stubs = text.count("raise NotImplementedError  # your code") + text.count("= None  # replace None")
    assert stubs >= 2  # at least one derivation and one implementation with a checker


def _solution_lines(text: str) -> set[str]:
    """Lines that appear only inside solutions (between solution-start and solution-end) and are
    long enough to be specific: prose and code a student must not see."""
    inside, solution, elsewhere = False, set(), set()
    for line in text.splitlines():
        inside = inside or line.startswith("```{solution-start}")
        (solution if inside else elsewhere).add(line.strip())
        inside = inside and not line.startswith("```{solution-end}")
    return {line for line in solution - elsewhere if len(line) > 30}


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_student_notebook_carries_no_solution(page):
    text = page.read_text()
    notebook = student_notebook(page)
    student_text = "\n".join(cell.source for cell in notebook.cells)
    assert "solution-start" not in student_text and "solution-end" not in student_text
    assert student_text.count(REMOVED_NOTE) == len(EXERCISE.findall(text))
    secrets = _solution_lines(text)
    assert len(secrets) >= 10
    assert not [line for line in secrets if line in student_text]


@pytest.fixture(scope="module")
def kernel():
    """One kernel for all pages (each page starts from a reset namespace): starting a kernel and
    importing torch once keeps this test short."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(ROOT / "notebooks"))
    yield manager
    manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_the_student_notebook_runs_and_its_checkers_answer_not_implemented(page, kernel):
    notebook = student_notebook(page)
    notebook.cells.insert(0, new_code_cell("%reset -f"))
    NotebookClient(notebook, km=kernel, timeout=120, allow_errors=False).execute()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [output for cell in code_cells for output in cell.outputs if output.get("name") == "stderr"]
    checker_cells = [cell for cell in code_cells if cell.source.strip().startswith("check_")]
    assert len(checker_cells) >= 2
    for cell in checker_cells:
        shown = "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
        assert "not implemented yet" in shown, cell.source


WEBSITE_ONLY = re.compile(r"download menu|this page|on the page|the site|click|collapsed", re.IGNORECASE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The default export (every chapter's exercise page) plus one chapter an instructor asks for."""
    out = tmp_path_factory.mktemp("notebooks")
    pages = exercise_pages(ROOT, ["ch4_large_loss_derivation"])
    export_notebooks(pages, out)
    return out


def test_the_export_holds_every_exercise_page_and_the_chapters_asked_for(exported):
    names = sorted(path.stem for path in (exported / "student").glob("*.ipynb"))
    assert names == sorted([*CHAPTERS, "ch4_large_loss_derivation"])
    assert sorted(path.stem for path in (exported / "instructor").glob("*.ipynb")) == names
    index = (exported / "README.md").read_text()
    publication = Publication.from_config(ROOT / "_config.yml")
    assert all(publication.colab_url(f"{name}.ipynb") in index for name in names)


def test_every_exported_notebook_is_plain_jupyter(exported):
    publication = Publication.from_config(ROOT / "_config.yml")
    for path in sorted(exported.glob("*/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert "jupytext" not in notebook.metadata and notebook.metadata.kernelspec.name == "python3"
        markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
        leftovers = {name: pattern.search(text)[0] for text in markdown for name, pattern in MYST_LEFTOVERS.items()
                     if pattern.search(text)}
        assert not leftovers, (path.name, leftovers)
        assert not [text for text in markdown if WEBSITE_ONLY.search(text)], path.name
        assert publication.page_url(f"notebooks/{path.stem}") in markdown[0]
        install = notebook.cells[1]
        assert install.cell_type == "code" and 'find_spec("mlteach") is None' in install.source
        assert publication.pip_requirement in install.source
        if path.parent.name == "student":
            assert publication.colab_url(path.name) in markdown[0]


def test_cross_references_and_citations_become_links_and_text(exported):
    notebook = nbformat.read(exported / "student" / "ch4_large_loss_derivation.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    publication = Publication.from_config(ROOT / "_config.yml")
    assert f"]({publication.page_url('book/notation')})" in text or f"]({publication.page_url('notebooks/ch1_basics')})" in text
    assert "(Kim et al., 2022)" in text
    assert "**Exercise 1**" in text


def test_an_exported_student_notebook_runs_in_a_fresh_kernel(exported):
    """Opened as a student would: the file as written, a new kernel, every cell from the top."""
    notebook = nbformat.read(exported / "student" / "ch4_large_loss_exercises.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(exported)}}).execute()
    checker_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith("check_")]
    assert len(checker_cells) == 2
    for cell in checker_cells:
        shown = "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
        assert "not implemented yet" in shown, cell.source
