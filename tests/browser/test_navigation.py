"""The menu (book contents) and contents (this page) buttons at phone, half-window and desktop
widths, clicked as a reader would, with the network cut off. pydata-sphinx-theme 0.17 with
sphinx-book-theme 1.3 binds them to hidden twins (pydata-sphinx-theme issue 2451);
``book/_ext/static/sidebar-toggles.js`` forwards the clicks."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

PAGE = "book/notation.html"
NEXT_PAGE_TITLE = "How to read and run this book"  # book/reading-guide, next in the contents
SECTION_TITLE = "Targets: 1, 0 and -1"  # a section of book/notation
NARROW = [390, 900]
WIDE = 1400


def open_at_width(offline_page, site_url, width: int):
    offline_page.page.set_viewport_size({"width": width, "height": 800})
    return offline_page.goto(f"{site_url}/{PAGE}")


def visible_button(page, kind: str):
    """The one toggle button of ``kind`` (primary or secondary) the reader can see."""
    buttons = page.locator(f"button.{kind}-toggle").filter(visible=True)
    assert buttons.count() == 1, f"{buttons.count()} visible {kind} toggles"
    return buttons.first


def click_backdrop(page, dialog) -> None:
    """A click beside the dialog, on its backdrop (the rest of the screen)."""
    box = dialog.bounding_box()
    viewport = page.viewport_size
    x = box["x"] + box["width"] + 10 if box["x"] + box["width"] + 10 < viewport["width"] else box["x"] - 10
    page.mouse.click(x, viewport["height"] / 2)


@pytest.mark.parametrize("width", NARROW)
def test_menu_opens_the_contents_closes_and_follows_a_link(offline_page, site_url, width):
    page = open_at_width(offline_page, site_url, width)
    dialog = page.locator("#pst-primary-sidebar-modal")
    link = dialog.get_by_role("link", name=NEXT_PAGE_TITLE)
    assert not dialog.is_visible()
    visible_button(page, "primary").click()
    link.wait_for(state="visible", timeout=3000)
    click_backdrop(page, dialog)
    dialog.wait_for(state="hidden", timeout=3000)
    visible_button(page, "primary").click()
    link.wait_for(state="visible", timeout=3000)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=3000)
    visible_button(page, "primary").click()
    link.click()
    page.wait_for_url(re.compile(r"/book/reading-guide\.html$"))
    assert page.locator("h1").first.inner_text().startswith(NEXT_PAGE_TITLE)
    assert offline_page.blocked == [] and offline_page.errors == []


@pytest.mark.parametrize("width", NARROW)
def test_contents_button_opens_this_pages_sections_and_follows_one(offline_page, site_url, width):
    page = open_at_width(offline_page, site_url, width)
    dialog = page.locator("#pst-secondary-sidebar-modal")
    link = dialog.get_by_role("link", name=SECTION_TITLE)
    assert not dialog.is_visible()
    visible_button(page, "secondary").click()
    link.wait_for(state="visible", timeout=3000)
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden", timeout=3000)
    visible_button(page, "secondary").click()
    link.click()
    page.wait_for_url(re.compile(r"notation\.html#targets-1-0-and-1$"))
    dialog.wait_for(state="hidden", timeout=3000)
    heading = page.get_by_role("heading", name=SECTION_TITLE)
    assert heading.bounding_box()["y"] < 200, "the page did not scroll to the section"
    assert offline_page.blocked == [] and offline_page.errors == []


def test_menu_button_hides_and_shows_the_sidebar_on_a_wide_screen(offline_page, site_url):
    page = open_at_width(offline_page, site_url, WIDE)
    sidebar = page.locator("#pst-primary-sidebar")
    link = sidebar.get_by_role("link", name=NEXT_PAGE_TITLE)
    assert link.is_visible()
    visible_button(page, "primary").click()
    link.wait_for(state="hidden", timeout=3000)
    assert not page.locator("#pst-primary-sidebar-modal").is_visible(), "a dialog opened instead"
    visible_button(page, "primary").click()
    link.wait_for(state="visible", timeout=3000)
    link.click()
    page.wait_for_url(re.compile(r"/book/reading-guide\.html$"))
    assert offline_page.blocked == [] and offline_page.errors == []


def test_sections_of_the_page_are_shown_and_followed_on_a_wide_screen(offline_page, site_url):
    page = open_at_width(offline_page, site_url, WIDE)
    assert page.locator("button.secondary-toggle").filter(visible=True).count() == 0
    link = page.locator("#pst-secondary-sidebar").get_by_role("link", name=SECTION_TITLE)
    assert link.is_visible()
    link.click()
    page.wait_for_url(re.compile(r"notation\.html#targets-1-0-and-1$"))
    assert offline_page.blocked == [] and offline_page.errors == []
