"""Signing up, in and out in the browser, against the real /auth/v1."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Account, Watcher, WebServer, sign_in

pytestmark = pytest.mark.browser


def header_account_link(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^(Account|Sign in)$")
    )


def test_sign_up_then_sign_out_then_sign_in_again(page: Page) -> None:
    email = f"web-{uuid.uuid4().hex[:12]}@example.test"
    page.goto("/auth?intent=sign_up&returnTo=%2Faccount")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your account")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill("a good password")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(re.compile(r"/account$"))
    expect(header_account_link(page)).to_have_text("Account")
    expect(page.locator("[data-email]")).to_have_text(email)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(header_account_link(page)).to_have_text("Sign in")
    assert page.evaluate("localStorage.getItem('utter_session')") is None

    # Signed out, the account page is out of reach again.
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/auth\?returnTo=%2Faccount$"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill("a good password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("[data-email]")).to_have_text(email)


def test_return_to_is_honoured_and_only_for_paths_on_this_site(
    page: Page, account: Account
) -> None:
    sign_in(page, account, return_to="/account/usage")
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    # A signed-in visitor to the sign-in page goes straight on.
    page.goto("/auth?returnTo=%2Faccount")
    expect(page).to_have_url(re.compile(r"/account$"))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    for foreign in (
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example%2F",
        "javascript%3Aalert(1)",
    ):
        page.goto(f"/auth?returnTo={foreign}")
        page.get_by_label("Email", exact=True).fill(account.email)
        page.get_by_label("Password", exact=True).fill(account.password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        # Anything that is not a path here falls back to Clone.
        expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/clone$"))
        page.evaluate("localStorage.removeItem('utter_session')")


@pytest.mark.parametrize(
    "return_to",
    [
        "%2F%09%2Fevil.example%2F",  # "/<tab>/evil.example/": the browser drops the tab
        "%2F%5Cevil.example",  # "/\evil.example": the browser reads the backslash as "/"
        "%2F%0A%2Fevil.example",  # a newline, dropped like the tab
        "%2F.%2F%2Fevil.example",  # "/.//evil.example": a path that is itself "//evil.example"
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "javascript%3Aalert(1)",
    ],
)
def test_return_to_never_leaves_the_site(page: Page, account: Account, return_to: str) -> None:
    page.goto(f"/auth?returnTo={return_to}")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/clone$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_return_to_keeps_a_path_query_and_fragment_here(page: Page, web_server: WebServer) -> None:
    page.goto("/auth")
    forms = {
        "/voices?q=a#list": "/voices?q=a#list",
        web_server.url + "/history?page=2": "/history?page=2",
        "/\t/evil.example/": "/clone",
        "": "/clone",
        None: "/clone",
    }
    answers = page.evaluate(
        """async (forms) => {
          const { safeReturnTo } = await import('/assets/js/router.js');
          return forms.map((value) => safeReturnTo(value));
        }""",
        list(forms),
    )
    assert answers == list(forms.values())


def test_a_wrong_password_shows_the_servers_words(
    page: Page, account: Account, watcher: Watcher
) -> None:
    watcher.expect(r"/auth/v1/token\?grant_type=password")
    page.goto("/auth")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Invalid login credentials")
    expect(page).to_have_url(re.compile(r"/auth$"))
    # Too short a password is caught before anything is sent.
    page.get_by_label("Password", exact=True).fill("abc")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("The password must be at least 6 characters.")


def test_magic_link_signs_in_and_lands_on_return_to(
    page: Page, account: Account, web_server: WebServer
) -> None:
    page.goto("/auth?returnTo=%2Faccount")
    page.get_by_role("radio", name="With an email link").check()
    expect(page).to_have_url(re.compile(r"method=magic_link"))
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("status").filter(has_text="Check your inbox")).to_contain_text(
        account.email
    )

    link = web_server.magic_link(account.email)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/account$"))  # the session fragment is taken off the URL
    expect(page.locator("[data-email]")).to_have_text(account.email)
    expect(header_account_link(page)).to_have_text("Account")


def test_a_used_magic_link_says_why_it_failed(
    page: Page, account: Account, web_server: WebServer, watcher: Watcher
) -> None:
    page.goto("/auth?method=magic_link&returnTo=%2Faccount")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("status").filter(has_text="Check your inbox")).to_be_visible()
    link = web_server.magic_link(account.email)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto(link)  # a second use is refused by the server; the app says so
    expect(page).to_have_url(re.compile(r"/auth\?returnTo=%2Faccount$"))
    expect(page.get_by_role("alert")).to_contain_text("That sign-in link did not work")


def test_sign_in_and_out_follow_the_user_across_tabs(page: Page, account: Account) -> None:
    sign_in(page, account, return_to="/account")
    other = page.context.new_page()
    other.goto("/account/usage")
    expect(other.get_by_role("heading", name="Usage")).to_be_visible()

    other.get_by_role("link", name="Profile").click()
    other.get_by_role("button", name="Sign out").click()
    # The first tab, on a page that needs a user, is sent to sign in.
    expect(page).to_have_url(re.compile(r"/auth\?returnTo=%2Faccount$"))


def test_the_session_is_refreshed_before_it_expires(page: Page, account: Account) -> None:
    sign_in(page, account, return_to="/account")
    before = page.evaluate("JSON.parse(localStorage.getItem('utter_session'))")
    # Pretend the token is about to expire, as it would after most of an hour.
    soon = int(time.time()) + 30
    page.evaluate(
        "(soon) => { const s = JSON.parse(localStorage.getItem('utter_session'));"
        " s.expires_at = soon; localStorage.setItem('utter_session', JSON.stringify(s)); }",
        soon,
    )
    page.reload()
    page.wait_for_function(
        "(old) => { const s = JSON.parse(localStorage.getItem('utter_session') || 'null');"
        " return s && s.refresh_token !== old; }",
        arg=before["refresh_token"],
    )
    after = page.evaluate("JSON.parse(localStorage.getItem('utter_session'))")
    assert after["expires_at"] > soon + 600
    expect(page.locator("[data-email]")).to_have_text(account.email)
