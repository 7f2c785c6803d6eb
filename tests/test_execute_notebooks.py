"""scripts/execute_notebooks.py: which pages it executes, in which order, once, and a failing
page fails it (tests/test_book_build_guards.py checks that Sphinx then finds the page in the
cache)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import execute_notebooks  # noqa: E402

NOTEBOOK = """---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# A page

```{code-cell} ipython3
:tags: [hide-input]
print(6 * 7)
```
"""


def test_every_page_of_the_table_of_contents_is_listed_root_first():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = execute_notebooks.toc_files(toc)
    assert files[0] == "book/intro" and files[-1] == "book/bibliography" and "notebooks/reproduction_status" in files
    assert len(files) == len(set(files)) and all((ROOT / f"{f}.md").exists() for f in files)
    assert sum(f.endswith("_experiments") for f in files) == 5


def test_the_status_page_waits_for_every_chapter_and_exercises_for_their_own():
    files = execute_notebooks.toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    experiments = {f for f in files if f.endswith("_experiments")}
    assert execute_notebooks.dependencies("notebooks/reproduction_status", files) == experiments
    assert execute_notebooks.dependencies("notebooks/ch3_dr_exercises", files) == {"notebooks/ch3_dr_experiments"}
    assert execute_notebooks.dependencies("notebooks/ch3_dr_derivation", files) == set()
    assert execute_notebooks.dependencies("notebooks/ch2_two_way_experiments", files) == set()


def test_a_page_is_executed_once(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "page.md").write_text(NOTEBOOK)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: notebooks/page\n")
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "execute_notebooks.py", tmp_path / "scripts" / "execute_notebooks.py")
    for expected in ("1 notebook(s) to execute", "0 notebook(s) to execute"):
        done = subprocess.run([sys.executable, "scripts/execute_notebooks.py", "--jobs", "1"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and expected in done.stdout, done.stdout + done.stderr


def test_a_failing_page_fails_the_script_with_its_traceback(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text(NOTEBOOK.replace("print(6 * 7)", "raise RuntimeError('broken page')"))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "execute_notebooks.py", tmp_path / "scripts" / "execute_notebooks.py")
    done = subprocess.run([sys.executable, "scripts/execute_notebooks.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    assert "book/intro failed" in done.stderr and "broken page" in done.stderr and "FAILED: book/intro" in done.stderr
