"""The sidebar buttons of the book's pages, working at every screen width.

pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3 both put a ``primary-toggle`` (and a
``secondary-toggle``) button on the page and bind the themes' handlers to the first, hidden
one (pydata-sphinx-theme issue 2451): on a phone or a half-width window the menu and contents
buttons open nothing, and on a wide screen the menu button does not hide the sidebar.
``static/sidebar-toggles.js``, published from this folder (no CDN), forwards a click on the
visible button to the bound one.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

STATIC = Path(__file__).parent / "static"


def publish_static_folder(app: Sphinx, config: Config) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", publish_static_folder)
    app.add_js_file("sidebar-toggles.js", loading_method="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
