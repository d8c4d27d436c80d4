"""The account page: profile saved through PATCH /api/profile, errors in the API's words,
and the usage summary from GET /api/usage, with today's use against the daily limits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.api import DEFAULT_PASSWORD
from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve
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
    # Today's use, on a server without daily limits.
    expect(
        page.get_by_role("heading", name=re.compile(r"^Today \(UTC, \d{4}-\d\d-\d\d\)$"))
    ).to_be_visible()
    expect(page.get_by_text("This server sets no daily limits.")).to_be_visible()
    expect(page.locator("[data-stat=characters_today] dd")).to_have_text("0 (no daily limit)")
    expect(page.locator("[data-stat=transcription_today] dd")).to_have_text(
        "0.0 s (no daily limit)"
    )
    expect(page.get_by_role("link", name="Usage")).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="Profile").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()


@pytest.fixture(scope="module")
def limited_server(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A server with daily limits set, on a database of its own: (its URL, the database)."""
    data_dir = tmp_path_factory.mktemp("limited-server")
    database_url = migrated_database(pg_server_url)
    with serve(
        lambda url: app_settings(
            data_dir,
            database_url=database_url,
            public_url=url,
            daily_character_limit=5000,
            daily_transcription_seconds=600,
        )
    ) as url:
        yield url, database_url


def test_usage_shows_todays_use_against_the_daily_limits(
    browser: Browser, limited_server: tuple[str, str]
) -> None:
    url, database_url = limited_server
    email = f"web-{uuid.uuid4().hex[:12]}@example.test"
    signed_up = httpx.post(
        f"{url}/auth/v1/signup", json={"email": email, "password": DEFAULT_PASSWORD}, timeout=30
    )
    assert signed_up.status_code == 200, signed_up.text
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.usage_daily (user_id, day, characters, transcription_seconds)"
            " values (%s, (now() at time zone 'utc')::date, 1234, 90)",
            (signed_up.json()["user"]["id"],),
        )
    watcher = Watcher(url)
    context = browser.new_context(base_url=url)
    context.set_default_timeout(15_000)
    context.on("console", watcher.on_console)
    context.on("weberror", lambda web_error: watcher.on_page_error(web_error.error))
    try:
        page = context.new_page()
        sign_in(page, Account(email, DEFAULT_PASSWORD), return_to="/account/usage")
        expect(page.locator("[data-stat=characters_today] dd")).to_have_text("1,234 of 5,000")
        expect(page.locator("[data-stat=transcription_today] dd")).to_have_text(
            "1 min 30 s of 10 min"
        )
        expect(
            page.get_by_text(
                "This server limits what each account may use per day."
                " The limits reset at midnight UTC."
            )
        ).to_be_visible()
        problems = list(watcher.outstanding())
    finally:
        context.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)
