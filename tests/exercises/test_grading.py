"""Bulk grading with nbgrader, end to end: an assignment generated from a chapter's exercise page,
three submissions (correct, wrong, crashing) graded into a per-student, per-exercise CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from mlteach.exercises.grading import POINTS, _graded_notebook, graded_exercises, grade_submissions, make_assignment

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "notebooks" / "ch4_large_loss_exercises.md"

CORRECT_GRADIENT = "my_corrected_gradient = (1 / (1 + sp.exp(-g)) - 1) / (B * C)"
WRONG_GRADIENT = "my_corrected_gradient = (1 / (1 + sp.exp(-g))) / (B * C)"  # assume-negative's gradient
CORRECT_SELECTION = '''def my_selection(logits, targets, rate):
    unknown = targets == -1
    losses = torch.where(unknown, F.softplus(logits), -math.inf)
    k = min(math.ceil(rate * logits.numel()), int(unknown.sum()))
    if k == 0:
        return torch.zeros_like(unknown)
    return losses >= losses.flatten().topk(k).values[-1]'''
WRONG_SELECTION = '''def my_selection(logits, targets, rate):
    losses = torch.where(targets == -1, F.softplus(logits), -math.inf)
    k = min(math.ceil(rate * logits.numel()), int((targets == -1).sum()))
    mask = torch.zeros(logits.numel(), dtype=torch.bool)
    mask[losses.flatten().topk(k).indices] = True  # exactly k: ties dropped
    return mask.reshape(logits.shape)'''
CRASHING_GRADIENT = "my_corrected_gradient = undefined_name / (B * C)  # NameError"
CRASHING_SELECTION = "import os\nos._exit(1)  # the kernel dies"


def answer(release: Path, gradient: str, selection: str) -> nbformat.NotebookNode:
    """The released notebook with the two stubs replaced, as a student would return it."""
    notebook = nbformat.read(release, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "my_corrected_gradient = None" in cell.source:
            cell.source = cell.source.replace(cell.source.splitlines()[-1], gradient)
        elif "raise NotImplementedError  # your code" in cell.source:
            cell.source = selection
    return notebook


def test_the_graded_exercises_are_the_checked_ones():
    assert graded_exercises(PAGE) == ["ex4-corrected-gradient", "ex4-selection"]


@pytest.mark.parametrize("page", sorted((ROOT / "notebooks").glob("*_exercises.md")), ids=lambda p: p.stem)
def test_every_checker_cell_becomes_a_locked_graded_test_with_a_hidden_assertion(page):
    graded = [cell for cell in _graded_notebook(page).cells if "nbgrader" in cell.metadata]
    assert [cell.metadata.nbgrader.grade_id for cell in graded] == graded_exercises(page)
    assert len(graded) >= 2
    for cell in graded:
        assert cell.metadata.nbgrader["locked"] and cell.metadata.nbgrader["points"] == POINTS
        shown, hidden = cell.source.split("\n### BEGIN HIDDEN TESTS\n")
        assert shown.startswith("check_") and hidden == f"{shown}.assert_passed()\n### END HIDDEN TESTS"


def test_three_submissions_are_graded_into_a_csv(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is pinned in requirements.txt; run scripts/setup.sh")
    release = make_assignment([PAGE], tmp_path / "course", "ch4") / f"{PAGE.stem}.ipynb"
    released = release.read_text()
    assert "BEGIN HIDDEN TESTS" not in released and "assert_passed" not in released
    assert "check_large_loss_selection(my_selection)" in released
    submissions = tmp_path / "submissions"
    for student, gradient, selection in (("correct", CORRECT_GRADIENT, CORRECT_SELECTION),
                                         ("wrong", WRONG_GRADIENT, WRONG_SELECTION),
                                         ("crashing", CRASHING_GRADIENT, CRASHING_SELECTION)):
        (submissions / student).mkdir(parents=True)
        nbformat.write(answer(release, gradient, selection), submissions / student / release.name)
    table = tmp_path / "grades.csv"
    grade_submissions(tmp_path / "course", "ch4", submissions, table)
    rows = list(csv.DictReader(table.open()))
    print(table.read_text())
    assert [row["student"] for row in rows] == ["correct", "crashing", "wrong"]
    scores = {row["student"]: {key: float(value) for key, value in row.items() if key != "student"} for row in rows}
    assert scores["correct"] == {"ex4-corrected-gradient": 1.0, "ex4-selection": 1.0, "total": 2.0, "max": 2.0}
    assert scores["wrong"] == {"ex4-corrected-gradient": 0.0, "ex4-selection": 0.0, "total": 0.0, "max": 2.0}
    assert scores["crashing"]["total"] == 0.0 and scores["crashing"]["max"] == 2.0
