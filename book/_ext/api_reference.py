"""The API reference pages (``book/api.md``, ``book/api_tools.md``): the package's docstrings
through Sphinx autodoc.

- loads ``sphinx.ext.autodoc`` and ``sphinx.ext.napoleon`` (the NumPy-style "Parameters"
  sections) and sets them up for this book: signatures without type annotations (they would
  link to torch's and numpy's types, which the offline book cannot resolve), members in source
  order, short names, no docstrings inherited from ``torch.nn.Module`` (``forward``);
- the docstrings are written for ``help()``: a plain-text formula such as ``|P|`` (the size of
  a set) or ``|a - b|`` would read as a reST substitution, so ``|...|`` is escaped before
  parsing;
- they also name submodules and module constants that the page does not document one by one
  (``:mod:`mlteach.train.trainer```, ``:data:`MODELS```): those stay code, not links, instead
  of failing the nitpicky (``-n``) build. Every other reference is still checked.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.config import Config

SUBSTITUTION_LIKE = re.compile(r"(?<![\w`\\])\|([^|`\n]+?)\|(?![\w`])")
UNDOCUMENTED_TARGETS = [
    ("py:mod", r"mlteach\..+"),          # submodules: the page documents the packages
    ("py:data", r".+"),                  # module constants (MODELS, RECORD_COLUMNS, ...)
    ("py:func", r"map_in_processes|mlteach\.data\.long_tail\..+"),
    ("py:meth", r"\w+"),                # a method named without its class
    ("py:class", r"torch\..+"),         # torch's own classes (torch.nn.BCELoss)
]


def escape_substitutions(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    lines[:] = [SUBSTITUTION_LIKE.sub(r"\\|\1\\|", line) for line in lines]


def configure(app: Sphinx, config: Config) -> None:
    config.autodoc_typehints = "none"
    config.autodoc_member_order = "bysource"
    config.autodoc_inherit_docstrings = False
    config.add_module_names = False
    config.nitpick_ignore_regex = [*config.nitpick_ignore_regex, *UNDOCUMENTED_TARGETS]


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    app.connect("config-inited", configure)
    app.connect("autodoc-process-docstring", escape_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
