"""Remove every solution from a MyST Markdown text, or refuse with the file and line.

Sphinx (MyST + sphinx-exercise) renders as a solution:

- a ``{solution}`` directive: an opening fence of three or more backticks, tildes or colons,
  optional spaces, then ``{solution}`` in any case (``{Solution}``), closed by a line of the same
  character at least as long as the opening fence and nothing else (CommonMark's rule: a
  shorter fence inside is content);
- everything between a ``{solution-start}`` directive and the matching ``{solution-end}``
  directive (gated solutions, which may hold code cells);
- both of these inside block quotes (``> ```{solution}``), where the solution also ends with
  the block quote that contains it.

:func:`strip_solutions` drops all of them and leaves :data:`REMOVED_NOTE` in their place. It
never guesses: a solution that is never closed, a ``{solution-end}`` without its start, a gated
solution inside another, or any other line that mentions ``{solution`` or ``.. solution``
outside these forms raises :class:`SolutionSyntaxError` naming the file and line.

>>> print(strip_solutions("Intro\\n~~~~ {Solution} ex1\\nsecret\\n~~~~\\nAfter"))
Intro
*The solution is not part of the student edition.*
After
"""

from __future__ import annotations

import re

__all__ = ["strip_solutions", "SolutionSyntaxError", "REMOVED_NOTE"]

REMOVED_NOTE = "*The solution is not part of the student edition.*"

_QUOTE = re.compile(r"^(?P<prefix>(?:[ \t]*>[ ]?)*)(?P<body>.*)$")
_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*\{(?P<name>solution(?:-start|-end)?)\}(?P<rest>.*)$",
                   re.IGNORECASE)
_MENTION = re.compile(r"\{\s*solution|\.\.\s+solution", re.IGNORECASE)


class SolutionSyntaxError(ValueError):
    """A solution the exporter cannot delimit with certainty; the message starts ``file:line:``."""

    def __init__(self, path: str, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def _depth(prefix: str) -> int:
    return prefix.count(">")


def _closes(body: str, fence: str) -> bool:
    """Whether ``body`` is a closing fence for ``fence``: the same character, at least as many,
    nothing else but spaces."""
    return re.fullmatch(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*", body) is not None


def strip_solutions(text: str, path: str = "<text>") -> str:
    """``text`` with every solution replaced by :data:`REMOVED_NOTE` (see the module docstring);
    :class:`SolutionSyntaxError` (``path:line: ...``) for anything it cannot delimit."""
    kept: list[str] = []
    block: tuple[str, int, int] | None = None  # inside a dropped directive: (fence, quote depth, opening line)
    gated: int | None = None                    # line of the solution-start we are inside of
    for number, line in enumerate(text.splitlines(), start=1):
        parts = _QUOTE.match(line)
        prefix, body = parts["prefix"], parts["body"]
        depth = _depth(prefix)
        if block is not None:
            fence, block_depth, _ = block
            if depth == block_depth and _closes(body, fence):
                block = None
                continue
            if depth >= block_depth:
                continue  # a line of the directive
            block = None  # the block quote holding the directive ended, and with it the directive
        opening = _OPEN.match(body)
        name = opening["name"].lower() if opening else None
        if opening is None and _MENTION.search(body):
            raise SolutionSyntaxError(path, number, "this line mentions a solution in a form the exporter does not "
                                                    "recognise; write it as a fenced {solution} directive")
        if gated is not None:
            if name == "solution-start":
                raise SolutionSyntaxError(path, number, f"a solution-start inside the gated solution opened at line "
                                                        f"{gated}")
            if name == "solution-end":
                gated, block = None, (opening["fence"], depth, number)
            continue
        if name == "solution-end":
            raise SolutionSyntaxError(path, number, "a solution-end without a solution-start before it")
        if name in ("solution", "solution-start"):
            kept.append(prefix + REMOVED_NOTE)
            block = (opening["fence"], depth, number)
            if name == "solution-start":
                gated = number
            continue
        kept.append(line)
    if gated is not None:
        raise SolutionSyntaxError(path, gated, "a gated solution (solution-start) is opened here but never closed "
                                               "by a solution-end")
    if block is not None:
        fence, _, opened = block
        raise SolutionSyntaxError(path, opened, f"a directive opened here with {fence} is never closed")
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")
