"""The book's build configuration turns a failing cell or a broken cross-reference into a
failed build. Each test builds a one-page book with the repository's real ``_config.yml``
and extension in a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# Guard page
"""


def build_single_page(tmp_path: Path, body: str, pre_execute: bool = False) -> subprocess.CompletedProcess:
    """Build a one-page book; with ``pre_execute``, scripts/execute_notebooks.py executes the page
    into the cache first, as scripts/build_book.sh does."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    (tmp_path / "_assets").mkdir()
    shutil.copy(ROOT / "_assets" / "mathjax2-shim.js", tmp_path / "_assets")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (tmp_path / "page.md").write_text(HEADER + body)
    if pre_execute:
        (tmp_path / "scripts").mkdir()
        shutil.copy(ROOT / "scripts" / "execute_notebooks.py", tmp_path / "scripts")
        subprocess.run([sys.executable, "scripts/execute_notebooks.py"], cwd=tmp_path, check=True, timeout=300)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    # in the book's folder: myst-nb reads the execution cache path (_build/.jupyter_cache) relative
    # to the working directory, and the repository's own cache must stay out of these builds
    return subprocess.run([str(jupyter_book), "build", "-W", "-n", "--keep-going", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


@pytest.mark.slow
def test_a_clean_page_builds(tmp_path):
    result = build_single_page(tmp_path, "```{code-cell} ipython3\nprint(1 + 1)\n```\n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
def test_a_page_executed_ahead_of_sphinx_is_read_from_the_cache(tmp_path):
    result = build_single_page(tmp_path, "```{code-cell} ipython3\n:tags: [hide-input]\nprint(6 * 7)\n```\n",
                               pre_execute=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Using cached notebook" in result.stdout and "Executing notebook" not in result.stdout


@pytest.mark.slow
def test_a_failing_cell_fails_the_build(tmp_path):
    result = build_single_page(tmp_path, "```{code-cell} ipython3\nraise RuntimeError('deliberate')\n```\n")
    assert result.returncode != 0
    assert "deliberate" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_broken_cross_reference_fails_the_build(tmp_path):
    result = build_single_page(tmp_path, "See {ref}`no-such-label`.\n")
    assert result.returncode != 0
    assert "no-such-label" in result.stdout + result.stderr


@pytest.mark.slow
def test_a_warning_on_stderr_fails_the_build(tmp_path):
    cell = "```{code-cell} ipython3\nimport warnings\nwarnings.warn('deliberate warning')\n```\n"
    result = build_single_page(tmp_path, cell)
    assert result.returncode != 0
