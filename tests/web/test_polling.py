"""How the app keeps up with the server without wasting its work: the task dock polls slowly
while the tab is hidden and at once when it is shown again, and a refresh redraws only the
rows that changed. Tasks are written straight to the server's database (one nobody runs
stays pending), so no synthesis has to run for the dock to have something to follow."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg
import pytest
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import Account, WebServer, sign_in

pytestmark = pytest.mark.browser

FAST_MS = 1_000  # tasks.js: the dock's pace while a task runs
HIDDEN_MS = 30_000  # poll.js: a hidden tab polls at most this often
STEP_MS = 250
VISIBLE_MOST_MS = 5 * FAST_MS  # well under the hidden pace

SET_VISIBILITY = """state => {
  for (const [name, value] of [['visibilityState', state], ['hidden', state === 'hidden']]) {
    Object.defineProperty(document, name, { configurable: true, get: () => value });
  }
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def add_task(web_server: WebServer, account: Account, status: str, preview: str) -> str:
    """A generate task of the account's, as the server writes one."""
    with psycopg.connect(web_server.database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.tasks (user_id, type, status, metadata, completed_at)"
            " select id, 'generate', %s, %s, case when %s = 'completed' then now() end"
            " from auth.users where email = %s returning id",
            (status, json.dumps({"text_preview": preview}), status, account.email),
        ).fetchone()
    assert row is not None
    return str(row[0])


def set_status(web_server: WebServer, task_id: str, status: str) -> None:
    with psycopg.connect(web_server.database_url, autocommit=True) as conn:
        conn.execute("update public.tasks set status = %s where id = %s", (status, task_id))


def is_poll(request: Request) -> bool:
    return urlsplit(request.url).path == "/api/tasks" and request.method == "GET"


def dock(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name="Tasks")


def polls_seen(page: Page) -> Callable[[], int]:
    """A count of the dock's polls from now on."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if is_poll(request) else None)
    return lambda: len(seen)


def settle(page: Page) -> None:
    """Returns once every request the page had started is reported: a request the page
    makes after them has been answered."""
    assert page.evaluate("fetch('/api/health').then(r => r.status)") == 200


def page_time_to_next_poll(page: Page, polls: Callable[[], int], most: int) -> int:
    """Moves the page's clock on in steps until the dock polls; the milliseconds it took."""
    start = polls()
    waited = 0
    while waited < most:
        page.clock.run_for(STEP_MS)
        waited += STEP_MS
        settle(page)
        if polls() > start:
            return waited
    raise AssertionError(f"no poll in {most} ms of the page's time")


def test_polling_slows_in_a_hidden_tab_and_catches_up_when_shown(
    page: Page, web_server: WebServer, account: Account
) -> None:
    add_task(web_server, account, "pending", "Nobody runs this one")
    # The page's timers follow a clock the test moves, so "how often" is counted in the
    # page's own time rather than measured.
    page.clock.install()
    sign_in(page, account, return_to="/voices")
    expect(dock(page).locator(".dock-row")).to_contain_text("Waiting to start")
    page.clock.pause_at(page.evaluate("Date.now()") + 1)
    polls = polls_seen(page)

    # Visible, with a task running: a poll about every second (the steps in which the
    # answer arrives add to it).
    for _ in range(2):
        assert page_time_to_next_poll(page, polls, most=VISIBLE_MOST_MS) < VISIBLE_MOST_MS

    # Hidden: the next poll only after half a minute of the page's time.
    page.evaluate(SET_VISIBILITY, "hidden")
    waited = page_time_to_next_poll(page, polls, most=2 * HIDDEN_MS)
    assert waited >= HIDDEN_MS - FAST_MS

    # Shown again: a poll at once, without the clock moving, then one a second again.
    with page.expect_request(is_poll):
        page.evaluate(SET_VISIBILITY, "visible")
    assert page_time_to_next_poll(page, polls, most=VISIBLE_MOST_MS) < VISIBLE_MOST_MS


def test_a_refresh_redraws_only_the_dock_rows_that_changed(
    page: Page, web_server: WebServer, account: Account
) -> None:
    add_task(web_server, account, "completed", "Finished before")
    running = add_task(web_server, account, "pending", "Still waiting")
    sign_in(page, account, return_to="/voices")
    done_row = dock(page).locator(".dock-row.is-completed")
    running_row = dock(page).locator(".dock-row.is-pending")
    expect(done_row).to_contain_text("Finished before")
    expect(running_row).to_contain_text("Still waiting")
    # Mark both rows' DOM nodes; a rebuilt row is a new node without the mark.
    done_row.evaluate("row => { row.keptAcrossPolls = true; }")
    running_row.evaluate("row => { row.keptAcrossPolls = true; }")
    cancel = running_row.get_by_role("button", name=re.compile("^Cancel"))
    cancel.focus()

    # The dock polls every second while a task runs; after two more polls the first of
    # them has been drawn (the next one is only asked for once a poll is done).
    for _ in range(2):
        with page.expect_response(lambda response: is_poll(response.request)):
            pass
    # The running row's clock moved on in place.
    expect(running_row.locator(".dock-status")).not_to_have_text(re.compile(r"· 0:00$"))
    assert done_row.evaluate("row => row.keptAcrossPolls === true")
    assert running_row.evaluate("row => row.keptAcrossPolls === true")
    expect(cancel).to_be_focused()

    # A task that changes gets a new row; the other row stays as it was.
    set_status(web_server, running, "failed")
    failed_row = dock(page).locator(".dock-row.is-failed")
    expect(failed_row).to_contain_text("Failed")
    assert failed_row.evaluate("row => row.keptAcrossPolls === undefined")
    assert done_row.evaluate("row => row.keptAcrossPolls === true")
