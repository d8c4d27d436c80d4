"""The account page: profile saved through PATCH /api/profile, errors in the API's words,
and the usage summary from GET /api/usage."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Account, Watcher, WebServer, sign_in

pytestmark = pytest.mark.browser


def test_profile_is_saved_and_shown_after_a_reload(
    page: Page, account: Account, web_server: WebServer
) -> None:
    sign_in(page, account, return_to="/account")
    handle = f"web_{uuid.uuid4().hex[:10]}"
    avatar = f"{web_server.url}/assets/icon.svg"
    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Avatar URL").fill(avatar)
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()

    page.reload()
    expect(page.get_by_label("Display name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Handle")).to_have_value(handle)
    expect(page.get_by_label("Avatar URL")).to_have_value(avatar)
    expect(page.locator(".avatar img")).to_have_attribute("src", avatar)

    # Emptying a field clears it (the API stores null).
    page.get_by_label("Display name").fill("")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Display name")).to_have_value("")
    expect(page.get_by_label("Handle")).to_have_value(handle)


def test_profile_errors_are_the_apis_own_words(
    page: Page, account: Account, web_server: WebServer, watcher: Watcher
) -> None:
    # Another account takes a handle first.
    taken = f"taken_{uuid.uuid4().hex[:8]}"
    first = page.context.new_page()
    sign_in(first, account, return_to="/account")
    first.get_by_label("Handle").fill(taken)
    first.get_by_role("button", name="Save profile").click()
    expect(first.get_by_role("status").filter(has_text="Profile saved.")).to_be_visible()
    first.get_by_role("button", name="Sign out").click()
    expect(first).to_have_url(re.compile(r"/$"))
    first.close()

    watcher.expect(r"/api/profile$")
    page.goto("/auth?intent=sign_up&returnTo=%2Faccount")
    page.get_by_label("Email", exact=True).fill(f"web-{uuid.uuid4().hex[:12]}@example.test")
    page.get_by_label("Password", exact=True).fill("a good password")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_label("Handle").fill(taken)
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("alert")).to_have_text("Handle is already taken.")

    page.get_by_label("Handle").fill("ab")  # checked in the browser before sending
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Handle must be 3-30 chars and use only letters, numbers, and underscores."
    )
    page.get_by_label("Handle").fill("")
    page.get_by_label("Avatar URL").fill("not a url")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("alert")).to_have_text("Avatar URL must be a valid URL or null.")


def test_usage_summary_for_a_new_account(page: Page, account: Account) -> None:
    sign_in(page, account, return_to="/account/usage")
    expect(page.locator("[data-stat=voices] dd")).to_have_text("0")
    expect(page.locator("[data-stat=generations] dd")).to_have_text("0")
    expect(page.locator("[data-stat=generated_seconds] dd")).to_have_text("0.0 s")
    expect(page.get_by_role("link", name="Usage")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="Profile").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
