"""sphinx-proof's boxes (theorems, propositions, lemmas, proofs, ...) on the single-page build.

Sphinx gives a builder the node handlers registered under its own name and falls back to those
of its format (``html``) only when none are: sphinx-exercise registers its nodes for
``singlehtml``, so the single-page build of ``scripts/book_pdf.py`` no longer sees the ``html``
handlers that sphinx-proof registers and stops at its first proposition ("unknown node type").
This extension registers, for ``singlehtml``, sphinx-proof's own ``html`` visit/depart
functions for every node class that ``sphinx_proof.nodes`` defines. sphinx-proof's numbering
already handles the single-page builder.
"""

from __future__ import annotations

import inspect

import sphinx_proof.nodes
from docutils import nodes
from sphinx.application import Sphinx


def proof_node_classes() -> list[type[nodes.Element]]:
    """Every node class defined in ``sphinx_proof.nodes`` (not the docutils ones it imports)."""
    return [cls for _, cls in inspect.getmembers(sphinx_proof.nodes, inspect.isclass)
            if issubclass(cls, nodes.Element) and cls.__module__ == sphinx_proof.nodes.__name__]


def register_for_single_page(app: Sphinx) -> None:
    html = app.registry.translation_handlers.get("html", {})
    for cls in proof_node_classes():
        if cls.__name__ in html:
            app.registry.add_translation_handlers(cls, singlehtml=html[cls.__name__])


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_proof")  # its html handlers must be registered before they are copied
    register_for_single_page(app)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
