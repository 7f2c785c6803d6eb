"""MyST Markdown turned into the plain Markdown any Jupyter (or Colab) renders.

The book's markdown uses MyST syntax that a plain notebook shows as raw text. :class:`Plainer`
rewrites one markdown cell:

- directives (``:::{name}`` or ```` ```{name} ````, nested): an exercise becomes a bold
  "Exercise n" heading (numbered in page order) with its title; ``{admonition}`` and the named
  admonitions (note, tip, warning, ...) become block quotes with a bold title; proofs and
  propositions (``prf:``) a bold heading; a solution a bold "Solution" heading; ``{math}`` a
  ``$$`` block; ``{only}`` blocks (sentences that only make sense on the website) are dropped,
  and so is any directive that has no meaning outside the book (``{bibliography}``, ...);
  the option lines (``:label:``, ``:class:``) go;
- roles: ``{doc}`` and ``{ref}`` become links to the published pages (see
  :mod:`~mlteach.exercises.publishing`), ``{cite:p}`` / ``{cite:t}`` the text "(Kim et al., 2022)"
  / "Kim et al. (2022)" from the book's bibliography, ``{math}`` inline ``$...$``, ``{eq}`` the
  equation's label; any other role its text;
- targets ``(label)=``, comments ``% ...`` and equation labels after ``$$`` go.

Dollar math (``$x$``, ``$$...$$``) is already plain Jupyter Markdown and is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .publishing import ROOT, Publication

__all__ = ["Plainer", "BookIndex", "MYST_LEFTOVERS"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*\{(?P<name>[\w:-]+)\}[ \t]*(?P<argument>.*)$")
_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:[ \t]+(?P<value>.*))?$")
_TARGET = re.compile(r"^\([\w:.-]+\)=[ \t]*$")
_EQUATION_LABEL = re.compile(r"^(?P<math>.*\$\$)[ \t]*\([\w:.-]+\)[ \t]*$")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^>]+)>$", re.DOTALL)

#: Patterns of MyST syntax that must not survive in a plain notebook's markdown.
MYST_LEFTOVERS = {
    "directive fence": re.compile(r"^[ \t>]*(`{3,}|~{3,}|:{3,})[ \t]*\{", re.MULTILINE),
    "role": _ROLE,
    "directive option": re.compile(r"^[ \t>]*:(label|class|nonumber|name|dropdown):", re.MULTILINE),
    "target": re.compile(r"^\([\w:.-]+\)=[ \t]*$", re.MULTILINE),
    "comment": re.compile(r"^%", re.MULTILINE),
}

_ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}
_DROPPED = {"only", "bibliography", "toctree", "nb-exec-table", "tableofcontents", "glue:figure"}


@dataclass
class BookIndex:
    """What the converter needs to know about the book: page titles, the page of every label,
    and the bibliography's short citations."""

    titles: dict[str, str] = field(default_factory=dict)     # page path (no suffix) -> first heading
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (page, its text)
    citations: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (authors, year)

    @classmethod
    def of_book(cls, root: Path = ROOT) -> "BookIndex":
        index = cls()
        for source in sorted([*root.glob("notebooks/*.md"), *root.glob("book/*.md")]):
            page = source.relative_to(root).with_suffix("").as_posix()
            text = source.read_text()
            heading = re.search(r"^# (.+)$", text, re.MULTILINE)
            index.titles[page] = heading[1].strip() if heading else page
            for match in re.finditer(r"^[ \t]*(?:`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<title>.*)\n"
                                     r"(?::[\w-]+:.*\n)*?:label: (?P<label>\S+)", text, re.MULTILINE):
                index.labels[match["label"]] = (page, match["title"].strip() or match["name"].split(":")[-1])
            for match in re.finditer(r"^\((?P<label>[\w:.-]+)\)=\n+#+ (?P<title>.+)$", text, re.MULTILINE):
                index.labels[match["label"]] = (page, match["title"].strip())
        bib = root / "book" / "references.bib"
        if bib.exists():
            for entry in re.finditer(r"@\w+\{(?P<key>[^,]+),(?P<body>.*?)\n\}", bib.read_text(), re.DOTALL):
                authors = re.search(r"author\s*=\s*\{(.*?)\},?\n", entry["body"], re.DOTALL)
                year = re.search(r"year\s*=\s*\{?(\d{4})", entry["body"])
                index.citations[entry["key"].strip()] = (_short_authors(authors[1]) if authors else entry["key"],
                                                         year[1] if year else "n.d.")
        return index


def _short_authors(authors: str) -> str:
    """"Kim, Youngwook and Kim, Jae Myung and ..." -> "Kim et al."; two authors "A and B"."""
    names = [name.split(",")[0].strip().strip("{}") for name in re.split(r"\s+and\s+", authors.strip())]
    if len(names) > 2:
        return f"{names[0]} et al."
    return " and ".join(names)


class Plainer:
    """Converts the markdown cells of one page (``page``: its path without suffix from the book's
    root, e.g. ``notebooks/ch4_large_loss_exercises``) to plain Markdown."""

    def __init__(self, page: str, publication: Publication, index: BookIndex):
        self.page, self.publication, self.index = page, publication, index
        self.exercises = 0

    def convert(self, text: str) -> str:
        lines = self._blocks(text.splitlines())
        out = "\n".join(lines)
        out = re.sub(r"\n{3,}", "\n\n", out).strip("\n")
        return _ROLE.sub(self._role, out)

    # ------------------------------------------------------------------------- blocks
    def _blocks(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            match = _FENCE.match(line)
            if match is None:
                if _TARGET.match(line) or line.startswith("%"):
                    i += 1
                    continue
                label = _EQUATION_LABEL.match(line)
                out.append(label["math"] if label else line)
                i += 1
                continue
            fence, end = match["fence"], i + 1
            while end < len(lines) and not re.fullmatch(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*",
                                                        lines[end]):
                end += 1
            body = lines[i + 1:end]
            options = {}
            while body and _OPTION.match(body[0]):
                option = _OPTION.match(body[0])
                options[option["key"]] = option["value"] or ""
                body = body[1:]
            out.extend(self._directive(match["name"].lower(), match["argument"].strip(), options, body))
            i = end + 1
        return out

    def _directive(self, name: str, argument: str, options: dict, body: list[str]) -> list[str]:
        if name in _DROPPED or name == "solution-end":
            return []
        content = self._blocks(body)
        if name == "exercise":
            self.exercises += 1
            title = f": {argument}" if argument else ""
            return ["", f"**Exercise {self.exercises}{title}**", "", *content, ""]
        if name in ("solution", "solution-start"):
            return ["", "**Solution**", "", *content, ""]
        if name == "math":
            return ["", "$$", *content, "$$", ""]
        if name in ("code", "code-block"):
            return ["", f"```{argument}", *body, "```", ""]
        if name.startswith("prf:"):
            kind = name.split(":", 1)[1].capitalize()
            if kind == "Proof":
                return ["", "*Proof.*", "", *content, "", "∎", ""]
            return ["", f"**{kind}**" + (f" ({argument})" if argument else "") + ".", "", *content, ""]
        title = argument if name == "admonition" else name.capitalize() if name in _ADMONITIONS else (argument or name)
        quoted = [f"> {line}" if line.strip() else ">" for line in ["**" + title + "**", "", *content]]
        return ["", *quoted, ""]

    # ------------------------------------------------------------------------- roles
    def _role(self, match: re.Match) -> str:
        role, text = match["role"], match["text"]
        explicit = _EXPLICIT.match(text)
        shown, target = (explicit["text"], explicit["target"]) if explicit else ("", text)
        if role == "doc":
            page = PurePosixPath(self.page).parent.joinpath(target).as_posix()
            page = _normalise(page)
            return f"[{shown or self.index.titles.get(page, target)}]({self.publication.page_url(page)})"
        if role in ("ref", "numref"):
            if target in self.index.labels:
                page, title = self.index.labels[target]
                return f"[{shown or title}]({self.publication.page_url(page, target)})"
            return shown or target
        if role.startswith("cite"):
            keys = [key.strip() for key in target.split(",")]
            found = [self.index.citations.get(key, (key, "n.d.")) for key in keys]
            if role == "cite:t":
                return "; ".join(f"{authors} ({year})" for authors, year in found)
            return "(" + "; ".join(f"{authors}, {year}" for authors, year in found) + ")"
        if role == "math":
            return f"${text}$"
        if role == "eq":
            return f"({target})"
        return shown or target


def _normalise(page: str) -> str:
    parts: list[str] = []
    for part in page.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)
