"""Browser fixtures: a real Utter on a free port, Debian's Chromium driven by Playwright, and
a watcher that fails the test on any console error, page error or failed request.

Every test gets a fresh browser context (its own storage, like a new profile); the browser
itself is launched once per test module, each time with a new temporary user-data dir.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.support.api import DEFAULT_PASSWORD
from tests.support.mail import link_and_code
from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve
from utter.auth.mailer import read_outbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake microphone, so in-browser recording can be driven without hardware.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass(frozen=True)
class WebServer:
    url: str
    data_dir: Path
    database_url: str

    def magic_link(self, email: str) -> str:
        """The sign-in link in the newest email to `email` (the dev outbox)."""
        messages = read_outbox(self.data_dir / "outbox", to=email)
        assert messages, f"no email to {email}"
        link, _code = link_and_code(messages[-1])
        return link


@pytest.fixture(scope="session")
def web_server(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """Utter as `utter serve` runs it (uvicorn, a job worker in its event loop) on a free
    port and a database of its own, with a data dir the tests can read (the outbox)."""
    data_dir = tmp_path_factory.mktemp("web-server")
    database_url = migrated_database(pg_server_url)
    with serve(
        lambda url: app_settings(
            data_dir, database_url=database_url, public_url=url, serve_worker=True
        )
    ) as url:
        yield WebServer(url, data_dir, database_url)


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and async tests (pytest-asyncio) cannot start while it is.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watcher:
    """Collects what went wrong in a browser context. `expect()` names a problem a test
    provokes on purpose (a wrong password is a 400 from the auth server)."""

    base_url: str
    problems: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)
    navigations: int = 0
    started_at: dict[int, int] = field(default_factory=dict)
    aborted: list[tuple[int, str, str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def _report(self, problem: str, url: str = "") -> None:
        if any(p.search(problem) or (url and p.search(url)) for p in self.expected):
            return
        self.problems.append(problem)

    def on_page(self, page: Page) -> None:
        # A document being replaced commits after its navigation request went out; fetches
        # the old document started in between are cut off at the commit.
        page.on("framenavigated", lambda frame: self._navigated(frame == page.main_frame))

    def _navigated(self, main: bool) -> None:
        if main:
            self.navigations += 1

    def on_request(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self.navigations += 1
        self.started_at[id(request)] = self.navigations

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self._report(
                f"HTTP {response.status} {response.request.method} {response.url}", response.url
            )

    def on_request_failed(self, request: Request) -> None:
        failure = request.failure or ""
        problem = f"request failed: {request.method} {request.url} ({failure})"
        if "ERR_ABORTED" in failure:
            # Requests a page was still making when it was reloaded or left are cut off by
            # the browser; that is not a failure of the app. Whether a navigation followed
            # is decided at the end, as the browser may report the abort first.
            self.aborted.append((self.started_at.get(id(request), -1), problem, request.url))
            return
        self._report(problem, request.url)

    def outstanding(self) -> list[str]:
        for started, problem, url in self.aborted:
            if started >= self.navigations:
                self._report(problem, url)
        self.aborted.clear()
        return self.problems

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "") if message.location else ""
        self._report(f"console error: {message.text} ({url})", url)

    def on_page_error(self, error: PlaywrightError) -> None:
        self._report(f"page error: {error}")


@pytest.fixture
def watcher(web_server: WebServer) -> Watcher:
    return Watcher(web_server.url)


@pytest.fixture
def context(browser: Browser, web_server: WebServer, watcher: Watcher) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=web_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    ctx.set_default_timeout(15_000)
    ctx.on("page", watcher.on_page)
    ctx.on("request", watcher.on_request)
    ctx.on("response", watcher.on_response)
    ctx.on("requestfailed", watcher.on_request_failed)
    ctx.on("console", watcher.on_console)
    ctx.on("weberror", lambda web_error: watcher.on_page_error(web_error.error))
    yield ctx
    problems = list(watcher.outstanding())
    ctx.close()
    assert not problems, "the browser saw problems:\n" + "\n".join(problems)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@pytest.fixture
def account(web_server: WebServer) -> Account:
    """A user signed up through /auth/v1 (not signed in in the browser)."""
    email = f"web-{uuid.uuid4().hex[:12]}@example.test"
    response = httpx.post(
        f"{web_server.url}/auth/v1/signup",
        json={"email": email, "password": DEFAULT_PASSWORD},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return Account(email, DEFAULT_PASSWORD)


def sign_in(page: Page, account: Account, return_to: str = "/clone") -> None:
    """Sign in through the auth page, as a person would."""
    page.goto(f"/auth?returnTo={quote(return_to, safe='')}")
    page.get_by_label("Email", exact=True).fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(return_to).path)
