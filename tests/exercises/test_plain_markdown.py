"""MyST turned into plain Markdown, the published addresses derived from repository.url, and the
export command's refusal message."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlteach.exercises.export import main as export_main
from mlteach.exercises.plain_markdown import MYST_LEFTOVERS, BookIndex, Plainer
from mlteach.exercises.publishing import Publication

ROOT = Path(__file__).resolve().parents[2]
SITE = Publication("https://github.com/someone/mlteach")
INDEX = BookIndex(titles={"notebooks/ch1_basics": "Multi-label basics"},
                  labels={"ex-one": ("notebooks/ch2_page", "Exercise title")},
                  citations={"kim2022largeloss": ("Kim et al.", "2022"), "cole2021single": ("Cole et al.", "2021")})
MYST = """(sec-start)=
% a comment for authors only
## Start

::::{exercise} A title
:label: ex-one
:class: note

Solve it, see {doc}`ch1_basics` and {doc}`the basics <ch1_basics>`, {ref}`ex-one`, {ref}`no-such-label`.

:::{note}
Inner note with {math}`x^2`.
:::
::::

:::{admonition} Learning goals
:class: tip
Goals here, as {cite:p}`kim2022largeloss,cole2021single` and {cite:t}`cole2021single` showed.
:::

```{math}
:label: eq-one
a = b
```

$$ x = 1 $$ (eq-two)

See {eq}`eq-two`.

:::{only} html
Only on the website.
:::
"""


def test_myst_becomes_plain_markdown():
    text = Plainer("notebooks/ch2_page", SITE, INDEX).convert(MYST)
    assert not [name for name, pattern in MYST_LEFTOVERS.items() if pattern.search(text)], text
    assert "**Exercise 1: A title**" in text
    assert "[Multi-label basics](https://someone.github.io/mlteach/notebooks/ch1_basics.html)" in text
    assert "[the basics](https://someone.github.io/mlteach/notebooks/ch1_basics.html)" in text
    assert "[Exercise title](https://someone.github.io/mlteach/notebooks/ch2_page.html#ex-one)" in text
    assert "no-such-label" in text
    assert "> **Note**\n>\n> Inner note with $x^2$." in text
    assert "> **Learning goals**" in text and ":class:" not in text
    assert "(Kim et al., 2022; Cole et al., 2021)" in text and "Cole et al. (2021) showed" in text
    assert "$$\na = b\n$$" in text and "$$ x = 1 $$\n" in text and "See (eq-two)." in text
    assert "Only on the website" not in text and "a comment" not in text and "sec-start" not in text


def test_the_book_index_reads_titles_labels_and_the_bibliography():
    index = BookIndex.of_book(ROOT)
    assert index.titles["book/notation"] and index.labels["ex4-selection"][0] == "notebooks/ch4_large_loss_exercises"
    assert index.citations["kim2022largeloss"] == ("Kim et al.", "2022")
    assert index.citations["kobayashi2023twoway"] == ("Kobayashi", "2023")


def test_addresses_derive_from_repository_url(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://github.com/Some-One/book.git\n  branch: trunk\n")
    site = Publication.from_config(config)
    assert site.site_url == "https://some-one.github.io/book/"
    assert site.pip_requirement == "mlteach @ git+https://github.com/Some-One/book@trunk"
    assert site.colab_url("a.ipynb") == "https://colab.research.google.com/github/Some-One/book/blob/student-notebooks/a.ipynb"
    config.write_text("title: no repository\n")
    with pytest.raises(ValueError, match="repository.url is not set"):
        Publication.from_config(config)
    with pytest.raises(ValueError, match="is not https://github.com/OWNER/REPO"):
        Publication("https://gitlab.com/a/b").site_url


def test_the_export_command_refuses_with_file_and_line(tmp_path, capsys):
    page = tmp_path / "broken.md"
    page.write_text("# Page\n\n```{solution}\nsecret\n")
    with pytest.raises(SystemExit) as exit_:
        export_main([str(page), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 1
    assert f"error: {page}:3: a directive opened here with ``` is never closed" in capsys.readouterr().err
    assert not (tmp_path / "out" / "student" / "broken.ipynb").exists()
