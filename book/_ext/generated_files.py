"""Publish the files that executed pages write, at the root of the built site.

A page may write a data file for its readers while it executes (the reproduction status page
writes ``claims.csv``, the claim table as data). Pages execute while Sphinx reads them, after
the configuration is fixed, so the folder they write into, ``_build/generated`` (see
:data:`GENERATED`), is created here when the configuration is read and added to
``html_extra_path``: Sphinx copies its files to the site's root when the build finishes, so
``claims.csv`` is published as ``<site>/claims.csv``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

#: Where executed pages write files to publish, relative to the book's root.
GENERATED = Path("_build") / "generated"


def add_generated_folder(app: Sphinx, config: Config) -> None:
    folder = Path(app.confdir) / GENERATED
    folder.mkdir(parents=True, exist_ok=True)
    config.html_extra_path = [*config.html_extra_path, str(folder)]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_generated_folder)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
