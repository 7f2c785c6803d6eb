"""Bulk grading with nbgrader: assignments from the book's pages, a folder of submissions into a CSV.

Why nbgrader (and not otter-grader): nbgrader grades on the instructor's machine, offline, by
running each submitted notebook in a local kernel; otter-grader 7 grades a folder of
submissions only inside Docker containers, which a classroom laptop or this project's
offline CI does not have. nbgrader 0.9.6 installs with the book's pinned stack (it adds
alembic, notebook, rapidfuzz and mako), and it is what many universities already run.

The assignment is generated from the same source as the student notebook
(:func:`~mlteach.exercises.export.student_notebook`): every checker cell becomes an nbgrader
*autograder test* cell (locked, worth :data:`POINTS` points, its id the exercise's label) that
shows the checker's report to the student and, in a hidden test the student never sees,
asserts that every check passed (:meth:`~mlteach.exercises.feedback.CheckResult.assert_passed`).
Students answer in the ordinary stub cells. Since the checkers stop a hung or exiting
submission (see :mod:`~mlteach.exercises.feedback`), one bad answer costs its exercise only.

::

    python -m mlteach.exercises.grading assignment --course course --name ch4 notebooks/ch4_large_loss_exercises.md
    python -m mlteach.exercises.grading grade --course course --name ch4 submissions/ --csv grades.csv

``submissions/`` holds one folder per student (the folder name is the student id) with the
returned notebooks, named as released. The CSV has one row per student and one column per
exercise (the points scored), then ``total`` and ``max``; a notebook that could not be graded
at all (the kernel died) scores 0 on its exercises.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import jupytext
import nbformat

from .export import student_notebook
from .publishing import ROOT
from .solutions import strip_solutions

__all__ = ["make_assignment", "grade_submissions", "graded_exercises", "POINTS"]

#: Points of an exercise checked by a checker.
POINTS = 1
_LABEL = re.compile(r"^:label:\s*(\S+)", re.MULTILINE)
_CHECKER = re.compile(r"^(check_\w+)\((.*)\)\s*$")


def graded_exercises(source: str | Path) -> list[str]:
    """The labels of the exercises whose checker cells appear in the page's student notebook, in
    order: each checker cell belongs to the exercise stated last before it."""
    source = Path(source)
    notebook = jupytext.reads(strip_solutions(source.read_text(), str(source)), fmt="md:myst")
    labels, current = [], None
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found = _LABEL.findall(cell.source)
            current = found[-1] if found else current
        elif _CHECKER.match(cell.source.strip()):
            if current is None:
                raise ValueError(f"{source}: a checker cell before any exercise: {cell.source.strip()}")
            labels.append(current)
    return labels


def _graded_notebook(source: Path) -> nbformat.NotebookNode:
    """The student notebook of ``source`` with its checker cells turned into nbgrader tests."""
    notebook = student_notebook(source)
    labels = iter(graded_exercises(source))
    for cell in notebook.cells:
        match = _CHECKER.match(cell.source.strip()) if cell.cell_type == "code" else None
        if match is None:
            continue
        label = next(labels)
        call = f"{match[1]}({match[2]})"
        cell.source = (f"{call}\n### BEGIN HIDDEN TESTS\n{call}.assert_passed()\n### END HIDDEN TESTS")
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": label, "locked": True, "points": POINTS,
                                     "solution": False, "task": False, "schema_version": 3}
    return notebook


def _nbgrader(course: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader`` of this interpreter (its ``bin`` first on PATH: nbgrader calls ``alembic``)."""
    command = [sys.executable, "-m", "nbgrader", *arguments, f"--CourseDirectory.root={course}"]
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(command, capture_output=True, text=True, cwd=course, env=environment)


def make_assignment(sources: Iterable[str | Path], course: str | Path, name: str) -> Path:
    """Write the nbgrader source notebooks of ``sources`` into ``course/source/<name>/`` and
    generate the student version into ``course/release/<name>/``; returns the release folder."""
    course = Path(course).resolve()
    folder = course / "source" / name
    folder.mkdir(parents=True, exist_ok=True)
    for source in map(Path, sources):
        nbformat.write(_graded_notebook(source), folder / f"{source.stem}.ipynb")
    done = _nbgrader(course, "generate_assignment", name, "--force")
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
    return course / "release" / name


def grade_submissions(course: str | Path, name: str, submissions: str | Path, csv_path: str | Path) -> list[dict]:
    """Autograde every student folder of ``submissions`` for the assignment ``name`` and write
    one CSV row per student (points per exercise, ``total``, ``max``); returns the rows."""
    from nbgrader.api import Gradebook, MissingEntry

    course, submissions = Path(course).resolve(), Path(submissions)
    release = course / "source" / name
    notebooks = sorted(path.stem for path in release.glob("*.ipynb"))
    students = sorted(path.name for path in submissions.iterdir() if path.is_dir())
    for student in students:
        target = course / "submitted" / student / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(submissions / student, target)
        _nbgrader(course, "autograde", name, f"--student={student}", "--create", "--force")
    exercises = [(notebook, grade_id) for notebook in notebooks
                 for grade_id in graded_exercises_of_release(release / f"{notebook}.ipynb")]
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            row, total = {"student": student}, 0.0
            for notebook, grade_id in exercises:
                try:
                    score = gradebook.find_grade(grade_id, notebook, name, student).score or 0.0
                except MissingEntry:  # the notebook could not be graded (missing, or the kernel died)
                    score = 0.0
                row[grade_id], total = score, total + score
            row["total"], row["max"] = total, float(POINTS * len(exercises))
            rows.append(row)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", *(grade_id for _, grade_id in exercises), "total", "max"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def graded_exercises_of_release(notebook: Path) -> list[str]:
    """The grade ids of an nbgrader source notebook, in order."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [cell.metadata["nbgrader"]["grade_id"] for cell in cells if cell.metadata.get("nbgrader", {}).get("grade")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    assignment = commands.add_parser("assignment", help="generate an nbgrader assignment from pages")
    assignment.add_argument("sources", nargs="*", help="pages (default: every chapter's exercise page)")
    grade = commands.add_parser("grade", help="grade a folder of submissions (one folder per student) into a CSV")
    grade.add_argument("submissions")
    grade.add_argument("--csv", default="grades.csv")
    for command in (assignment, grade):
        command.add_argument("--course", default="course", help="the nbgrader course folder (default: %(default)s)")
        command.add_argument("--name", required=True, help="the assignment's name, e.g. ch4")
    args = parser.parse_args(argv)
    if args.command == "assignment":
        sources = args.sources or sorted((ROOT / "notebooks").glob("*_exercises.md"))
        print(make_assignment(sources, args.course, args.name))
    else:
        for row in grade_submissions(args.course, args.name, args.submissions, args.csv):
            print(row)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
