"""The public pages in a real Chromium: they render, deep links and reloads work, unknown
paths get the app's not-found view, the theme sticks, and the shortcuts navigate."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Watcher

pytestmark = pytest.mark.browser


def test_landing_page_says_what_utter_is(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clone voices.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Generate speech.")
    expect(page.get_by_role("heading", name="What you can do")).to_be_visible()
    expect(page.get_by_role("heading", name="How it works")).to_be_visible()
    expect(page).to_have_title(re.compile("Utter"))
    # Signed out: the way in is an account, and the header offers sign-in.
    expect(page.get_by_role("link", name="Create an account")).to_have_attribute(
        "href", "/auth?intent=sign_up&returnTo=%2Fclone"
    )
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")
    ).to_be_visible()


@pytest.mark.parametrize(
    ("path", "heading", "phrase"),
    [
        ("/about", "About Utter", "10 to 30 seconds"),
        ("/privacy", "Privacy", "signed links that expire after an hour"),
        ("/terms", "Terms of use", "Clone only voices you have the right to use"),
    ],
)
def test_static_pages_render_from_a_deep_link(
    page: Page, path: str, heading: str, phrase: str
) -> None:
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("main")).to_contain_text(phrase)
    expect(page).to_have_title(f"{heading} · Utter")
    # The page survives a reload: the server answers the path with the app.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_links_navigate_without_reloading_and_back_works(page: Page) -> None:
    page.goto("/")
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("contentinfo").get_by_role("link", name="Privacy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy")
    expect(page).to_have_url(re.compile(r"/privacy$"))
    assert page.evaluate("window.__sameDocument") is True
    # Focus moves to the new page's heading, so screen readers announce it.
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clone voices.")


def test_unknown_path_shows_the_not_found_view(page: Page) -> None:
    page.goto("/this/does/not/exist?x=1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).to_contain_text("/this/does/not/exist")
    page.get_by_role("link", name="Go to the home page").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_signed_in_pages_send_a_visitor_to_sign_in_and_remember_where(page: Page) -> None:
    page.goto("/history?status=failed&page=2")
    expect(page).to_have_url(
        re.compile(r"/auth\?returnTo=%2Fhistory%3Fstatus%3Dfailed%26page%3D2$")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_theme_toggle_persists_across_reloads_and_tabs(page: Page) -> None:
    page.goto("/about")
    html = page.locator("html")
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    toggle = page.get_by_role("button", name="Switch to dark theme")
    toggle.click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    assert page.evaluate("localStorage.getItem('utter_theme')") == "dark"
    assert page.evaluate("document.querySelector('meta[name=theme-color]').content") == "#0d0d0d"
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "dark"

    other = page.context.new_page()
    other.goto("/terms")
    expect(other.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    # Switching back in one tab switches the other too.
    other.get_by_role("button", name="Switch to light theme").click()
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))

    page.reload()
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    # "system", which older versions stored, means light.
    page.evaluate("localStorage.setItem('utter_theme', 'system')")
    page.reload()
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))


def test_shortcuts_navigate_but_not_while_typing_or_with_modifiers(page: Page) -> None:
    page.goto("/about")
    page.keyboard.press("Control+g")
    page.keyboard.press("Alt+g")
    expect(page).to_have_url(re.compile(r"/about$"))
    page.keyboard.press("g")
    # Generate needs a user: the guard sends the visitor on to sign in, remembering Generate.
    expect(page).to_have_url(re.compile(r"/auth\?returnTo=%2Fgenerate$"))
    page.get_by_label("Email", exact=True).click()
    page.keyboard.type("cgd")
    expect(page.get_by_label("Email", exact=True)).to_have_value("cgd")
    expect(page).to_have_url(re.compile(r"/auth\?returnTo=%2Fgenerate$"))


def test_mobile_menu_opens_closes_with_escape_and_skip_link_works(page: Page) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/about")
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="About")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.keyboard.press("Shift+Tab")  # back to the top of the page
    page.goto("/about")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    skip.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_the_harness_notices_console_errors_failed_requests_and_page_errors(
    page: Page, watcher: Watcher
) -> None:
    page.goto("/about")
    expect(page.get_by_role("heading", level=1)).to_have_text("About Utter")
    page.evaluate("console.error('deliberate console error')")
    page.evaluate("fetch('/api/no-such-route').then(() => {})")
    page.evaluate("setTimeout(() => { throw new Error('deliberate page error'); })")
    page.wait_for_timeout(500)
    seen = "\n".join(watcher.outstanding())
    assert "deliberate console error" in seen
    assert "HTTP 404 GET" in seen and "/api/no-such-route" in seen
    assert "deliberate page error" in seen
    watcher.problems.clear()  # provoked on purpose; the teardown check must not fail on them
