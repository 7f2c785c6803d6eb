"""What a reader downloads: every page of the built book, with everything it loads, weighs at
most 3 MB, and a page loads the Jupyter widgets manager only when it shows a widget."""

from __future__ import annotations

import pytest

from .conftest import SITE
from .test_site import PAGES, WIDGET_VIEW

pytestmark = pytest.mark.browser

MAX_PAGE_BYTES = 3_000_000
WIDGETS_MANAGER = "html-manager/embed-amd.js"


def transferred_bytes(offline_page, url: str) -> tuple[int, dict[str, int]]:
    """Bytes transferred to load ``url`` in a fresh browser context (headers and bodies of
    every response), and the bytes per requested URL."""
    sizes: dict[str, int] = {}

    def record(request):
        size = request.sizes()
        sizes[request.url] = size["responseBodySize"] + size["responseHeadersSize"]

    offline_page.page.on("requestfinished", record)
    offline_page.goto(url)
    return sum(sizes.values()), sizes


@pytest.mark.parametrize("path", PAGES)
def test_page_weighs_at_most_3_mb(offline_page, site_url, path):
    total, sizes = transferred_bytes(offline_page, f"{site_url}/{path}")
    heaviest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
    listing = "\n".join(f"  {size / 1e6:.2f} MB {url.replace(site_url, '')}" for url, size in heaviest)
    assert total <= MAX_PAGE_BYTES, f"{path} weighs {total / 1e6:.2f} MB; heaviest:\n{listing}"


@pytest.mark.parametrize("path", PAGES)
def test_widgets_manager_only_where_a_widget_is_shown(path):
    text = (SITE / path).read_text(encoding="utf-8")
    has_widget = WIDGET_VIEW in text
    assert (WIDGETS_MANAGER in text) == has_widget, (
        f"{path}: the widgets manager is {'missing' if has_widget else 'loaded without a widget'}")
