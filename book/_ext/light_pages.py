"""Pages that carry only what they show.

pydata-sphinx-theme 0.17 loads Font Awesome's JavaScript (``_static/scripts/fontawesome.js``,
1.5 MB, hard-coded in its ``webpack-macros.html``) on every page, only so that a site may
register custom icons. The book has none: its icons (menu, download, search, theme, GitHub)
are drawn by the theme's stylesheet and Font Awesome's web fonts. At ``build-finished`` the
script tag is removed from every written page, which is idempotent and leaves the rest of the
page as the theme rendered it.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx

FONT_AWESOME_SCRIPT = re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\n?')


def drop_font_awesome_script(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lighter = FONT_AWESOME_SCRIPT.sub("", text)
        if lighter != text:
            page.write_text(lighter, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", drop_font_awesome_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
