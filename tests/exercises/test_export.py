"""Student notebooks carry no solution in any form Sphinx renders as one; the exporter refuses,
with file and line, what it cannot delimit; instructor notebooks carry everything."""

import re
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

from mlteach.exercises.export import export_notebooks, instructor_notebook, student_notebook
from mlteach.exercises.solutions import REMOVED_NOTE, SolutionSyntaxError, strip_solutions

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))

SOURCE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# Page

:::{exercise}
:label: ex-one
Compute the answer.
:::

```{solution-start} ex-one
:class: dropdown
```
The secret reasoning.

```{code-cell} ipython3
secret_code = 42
```
More secret text.
```{solution-end}
```

```{code-cell} ipython3
check_answer(my_answer)
```

:::{solution} ex-one
A colon-fenced secret.
:::

Closing words.
"""


def write(tmp_path, text=SOURCE, name="page.md"):
    path = tmp_path / name
    path.write_text(text)
    return path


def sources(notebook):
    return "\n".join(cell.source for cell in notebook.cells)


def test_student_notebook_drops_gated_and_fenced_solutions(tmp_path):
    text = sources(student_notebook(write(tmp_path)))
    for secret in ("secret reasoning", "secret_code", "More secret", "colon-fenced secret", "solution-end"):
        assert secret not in text
    for kept in ("Compute the answer.", "check_answer(my_answer)", "Closing words."):
        assert kept in text
    assert text.count(REMOVED_NOTE) == 2


def test_instructor_notebook_keeps_everything(tmp_path):
    paths = export_notebooks([write(tmp_path)], tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == [
        "instructor/page.ipynb", "student/page.ipynb"]
    instructor = nbformat.read(tmp_path / "out" / "instructor" / "page.ipynb", as_version=4)
    assert "secret_code = 42" in sources(instructor) and "colon-fenced secret" in sources(instructor)
    assert "student/page.ipynb" in (tmp_path / "out" / "README.md").read_text()


# ----------------------------------------------------------------------------- the forms of the issue
LEAKS = {
    "space after the fence": "``` {solution} ex-one\nSECRET\n```\n",
    "tilde fence": "~~~{solution} ex-one\nSECRET\n~~~\n",
    "capitalised name": "```{Solution} ex-one\nSECRET\n```\n",
    "in a block quote": "> ```{solution} ex-one\n> SECRET\n> ```\n",
    "longer closing fence": "```{solution} ex-one\nSECRET\n`````\n",
    "shorter fence inside": "````{solution}\nSECRET\n```python\nSECRET_CODE = 1\n```\nSECRET again\n````\n",
    "block quote ends the solution": "> ```{solution}\n> SECRET\n\nkept\n",
    "gated, tildes and capitals": "~~~~ {Solution-Start} ex-one\n:class: dropdown\n~~~~\nSECRET\n"
                                  "~~~{SOLUTION-END}\n~~~\n",
}


@pytest.mark.parametrize("form", LEAKS)
def test_every_form_sphinx_renders_as_a_solution_is_removed(form):
    stripped = strip_solutions("before\n\n" + LEAKS[form] + "\nafter\n")
    assert "SECRET" not in stripped and REMOVED_NOTE in stripped
    assert stripped.startswith("before") and stripped.rstrip().endswith("after")


REFUSED = {
    "never closed": ("text\n```{solution}\nSECRET\n", 2, "never closed"),
    "gated never closed": ("```{solution-start} x\n```\nSECRET\n", 1, "never closed by a solution-end"),
    "end without start": ("text\n\n```{solution-end}\n```\n", 3, "without a solution-start"),
    "start inside start": ("```{solution-start} a\n```\nx\n```{solution-start} b\n```\n", 4, "inside the gated"),
    "unknown form": ("text\n:::: solution\n{solution}\n", 3, "does not recognise"),
    "rst directive": ("```{eval-rst}\n.. solution:: ex-one\n\n   SECRET\n```\n", 2, "does not recognise"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_cannot_be_delimited_is_refused_with_file_and_line(case, tmp_path):
    text, line, problem = REFUSED[case]
    path = write(tmp_path, SOURCE + "\n" + text)
    first = SOURCE.count("\n") + 2  # the line of the appended text's first line
    with pytest.raises(SolutionSyntaxError, match=re.escape(problem)) as error:
        student_notebook(path)
    assert str(error.value).startswith(f"{path}:{first + line - 1}: ")


def test_bad_front_matter_is_named_with_its_line(tmp_path):
    path = write(tmp_path, SOURCE.replace("kernelspec: {display_name", "kernelspec: {display_name: [", 1))
    with pytest.raises(SolutionSyntaxError, match=r"page\.md:4: the front matter is not valid YAML"):
        student_notebook(path)
    with pytest.raises(SolutionSyntaxError, match="never closed by a --- line"):
        student_notebook(write(tmp_path, "---\ntitle: x\n\n# Page\n"))


def test_a_file_without_a_jupytext_header_is_read_as_myst(tmp_path):
    body = SOURCE.split("---\n", 2)[2]
    notebook = student_notebook(write(tmp_path, body))
    assert "check_answer(my_answer)" in sources(notebook) and "secret" not in sources(notebook)
    assert [cell.cell_type for cell in notebook.cells].count("code") == 2  # the install cell and the checker


# ----------------------------------------------------------------------------- generated forms
NAMES = st.sampled_from(["solution"]).flatmap(
    lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper))))


@st.composite
def fenced_solution(draw, index: int):
    """A ``{solution}`` directive as Sphinx would render it, in one of its many spellings, with
    secret lines (and sometimes a shorter inner fence) inside; returns (lines, secrets)."""
    char = draw(st.sampled_from("`~:"))
    length = draw(st.integers(3, 6))
    fence = char * length
    space = draw(st.sampled_from(["", " ", "  "]))
    label = draw(st.sampled_from(["", " ex-one", " ex-two"]))
    secrets = [f"SECRET{index}x{n}" for n in range(draw(st.integers(1, 3)))]
    body = [f"{secret} reasoning" for secret in secrets]
    if length > 3 and draw(st.booleans()):
        inner = char * draw(st.integers(3, length - 1))
        body += [f"{inner}python", f"SECRET{index}code = 1", inner]
        secrets.append(f"SECRET{index}code")
    closing = char * (length + draw(st.integers(0, 2))) + draw(st.sampled_from(["", " "]))
    depth = draw(st.integers(0, 2))
    indent = " " * draw(st.integers(0, 3)) if depth == 0 else ""
    lines = [f"{indent}{fence}{space}{{{draw(NAMES)}}}{label}", *body, f"{indent}{closing}"]
    if depth:
        quote = "> " * depth
        lines = [quote + line for line in lines]
        if draw(st.booleans()):
            lines = lines[:-1]  # the block quote's end closes the solution
    return lines, secrets


@st.composite
def page(draw):
    blocks, secrets, expected = [], [], 0
    for index in range(draw(st.integers(1, 4))):
        blocks.append([f"Public paragraph {index}."])
        kind = draw(st.sampled_from(["fenced", "gated"]))
        if kind == "fenced":
            lines, hidden = draw(fenced_solution(index))
            expected += 1
        else:
            start, end = draw(st.sampled_from(["```", "~~~", "````"])), draw(st.sampled_from(["```", "~~~"]))
            lines = [f"{start}{{{draw(NAMES)}-start}} ex", ":class: dropdown", start, f"SECRET{index}gated text",
                     "```{code-cell} ipython3", f"SECRET{index}cell = 2", "```", f"{end}{{{draw(NAMES)}-END}}", end]
            hidden = [f"SECRET{index}gated", f"SECRET{index}cell"]
        blocks.append(lines)
        secrets += hidden
    blocks.append(["Public ending."])
    return "\n\n".join("\n".join(block) for block in blocks) + "\n", secrets, expected


_MARKDOWN = MarkdownIt("commonmark").use(colon_fence_plugin)


@settings(max_examples=300, deadline=None)
@given(page())
def test_no_solution_text_survives_any_generated_form(generated):
    text, secrets, expected = generated
    # the generated forms are solutions for MyST's own parser: fences whose info is {solution}
    rendered = [token for token in _MARKDOWN.parse(text) if token.type in ("fence", "colon_fence")
                and token.info.strip().split(" ")[0].lower() == "{solution}"]
    assert len(rendered) == expected
    stripped = strip_solutions(text)
    assert not [secret for secret in secrets if secret in stripped]
    assert stripped.count("Public paragraph") == text.count("Public paragraph")
    assert "Public ending." in stripped


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_no_chapter_leaks_a_solution_into_its_student_notebook(chapter):
    text = sources(student_notebook(chapter))
    assert "solution-start" not in text and "{solution}" not in text and "**Solution**" not in text


def test_the_instructor_notebook_shows_solutions_under_a_heading():
    page = ROOT / "notebooks" / "ch4_large_loss_exercises.md"
    assert sources(instructor_notebook(page)).count("**Solution**") == 3
