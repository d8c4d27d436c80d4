"""The Account page's API keys: a key made in the browser shows its secret once, that secret
works as a bearer token on the API, the list says when it was last used, and revoking it in
the browser makes the very next request with it a 401."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Account, Watcher, WebServer, sign_in

pytestmark = pytest.mark.browser

KEY_FORM = re.compile(r"^sk-utter-[A-Za-z0-9_-]{43}$")


def _keys_with(url: str, key: str) -> httpx.Response:
    return httpx.get(f"{url}/api/keys", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_a_key_made_on_the_account_page_works_until_it_is_revoked_there(
    page: Page, account: Account, web_server: WebServer
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_server.url)
    sign_in(page, account, return_to="/account/keys")
    expect(page.get_by_role("link", name="API keys")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("You have no API keys.")).to_be_visible()

    # A name is asked for before anything is sent.
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("Give the key a name.")

    page.get_by_label("Name").fill("Home Assistant")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    secret_field = page.get_by_label("New API key Home Assistant")
    secret = secret_field.input_value()
    assert KEY_FORM.match(secret), secret

    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    card = page.locator(".key-card").filter(has_text="Home Assistant")
    expect(card).to_have_count(1)
    expect(card.locator("code")).to_have_text(f"{secret[:16]}…")
    expect(card.locator("[data-last-used]")).to_have_text("Never")

    # The secret is a bearer token on the API, for its owner.
    answer = _keys_with(web_server.url, secret)
    assert answer.status_code == 200, answer.text
    assert [k["name"] for k in answer.json()["keys"]] == ["Home Assistant"]

    # The secret is not shown again: a reload lists the key without it, now used.
    page.reload()
    card = page.locator(".key-card").filter(has_text="Home Assistant")
    expect(card.locator("[data-last-used]")).not_to_have_text("Never")
    assert secret not in page.content()

    # Revoking asks first; cancelling keeps the key.
    card.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Home Assistant")
    dialog.get_by_role("button", name="Cancel").click()
    assert _keys_with(web_server.url, secret).status_code == 200

    card.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    revoked = page.get_by_role("status").filter(has_text="Key “Home Assistant” revoked.")
    expect(revoked).to_be_visible()
    expect(page.locator(".key-card")).to_have_count(0)
    expect(page.get_by_text("You have no API keys.")).to_be_visible()

    refused = _keys_with(web_server.url, secret)
    assert refused.status_code == 401, refused.text
    assert refused.json() == {"detail": "Invalid or expired token"}


def test_the_servers_refusal_of_a_key_name_is_shown_in_its_words(
    page: Page, account: Account, watcher: Watcher
) -> None:
    watcher.expect(r"/api/keys$")
    sign_in(page, account, return_to="/account/keys")
    name = page.get_by_label("Name")
    # The field holds no more than the server's rule (GET /api/limits)...
    name.fill("x" * 101)
    expect(name).to_have_value("x" * 100)
    # ...and what the server refuses anyway (a client without that rule) is said in its words.
    name.evaluate("input => input.removeAttribute('maxlength')")
    name.fill("x" * 101)
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert")).to_have_text("Name must be 1-100 characters.")
    expect(page.locator(".key-card")).to_have_count(0)
