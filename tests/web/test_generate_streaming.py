"""Live playback on Generate: the first piece of a generation is heard while the rest is
still being made, the finished file then takes over where it had got to, and Cancel or
leaving the page stops the sound.

The server here runs its worker with an engine whose pieces the test releases one by one
(tests/support/streamed_engine_site), so "while the task is still processing" is a state the
test holds for as long as it looks, not a race against a fast engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve
from tests.web.conftest import Account, WebServer, sign_in
from tests.web.test_journey import clone_by_api, token_for

pytestmark = pytest.mark.browser

STREAMED_SITE = Path(__file__).parents[1] / "support" / "streamed_engine_site"
PIECES = 3
# Long enough that a piece is still sounding when the test looks (the page asks for the task
# list every second).
PIECE_SECONDS = 4.0
TEXT = "The first sentence is heard at once. The second one follows. The third ends it."


@pytest.fixture(scope="module")
def pieces_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test releases the engine's pieces (`release-{i}`, `release-all`)."""
    return tmp_path_factory.mktemp("streamed-pieces")


@pytest.fixture(scope="module")
def web_server(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory, pieces_dir: Path
) -> Iterator[WebServer]:
    """This module's own Utter (the browser fixtures use it in place of the shared one),
    whose worker process builds the streamed engine: the worker is started with the
    server, from this environment."""
    data_dir = tmp_path_factory.mktemp("streamed-server")
    database_url = migrated_database(pg_server_url)
    path = os.pathsep.join([str(STREAMED_SITE), *filter(None, [os.environ.get("PYTHONPATH")])])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", path)
        env.setenv("STREAMED_ENGINE_DIR", str(pieces_dir))
        env.setenv("STREAMED_ENGINE_CHUNKS", str(PIECES))
        env.setenv("STREAMED_ENGINE_PIECE_SECONDS", str(PIECE_SECONDS))
        try:
            with serve(
                lambda url: app_settings(
                    data_dir, database_url=database_url, public_url=url, serve_worker=True
                )
            ) as url:
                yield WebServer(url, data_dir, database_url)
        finally:
            # A generation a failed test left held ends, so the worker stops promptly.
            (pieces_dir / "release-all").touch()


@pytest.fixture
def held(pieces_dir: Path) -> Iterator[Path]:
    """Pieces are held until released, within this test."""
    (pieces_dir / "release-all").unlink(missing_ok=True)
    for stale in pieces_dir.glob("release-*"):
        stale.unlink()
    yield pieces_dir
    (pieces_dir / "release-all").touch()


def _task(web_server: WebServer, token: str) -> dict[str, object]:
    """The account's one generate task, as GET /api/tasks/{id} answers it."""
    headers = {"Authorization": f"Bearer {token}"}
    listed = httpx.get(f"{web_server.url}/api/tasks", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    tasks = [t for t in listed.json()["tasks"] if t["type"] == "generate"]
    assert len(tasks) == 1, tasks
    one = httpx.get(f"{web_server.url}/api/tasks/{tasks[0]['id']}", headers=headers, timeout=30)
    assert one.status_code == 200, one.text
    task: dict[str, object] = one.json()
    return task


def _start(page: Page, web_server: WebServer, account: Account, name: str) -> str:
    token = token_for(web_server, account)
    voice_id = clone_by_api(web_server, token, name)
    sign_in(page, account, return_to=f"/generate?voice={voice_id}")
    expect(page.get_by_role("combobox", name="Voice")).to_have_value(name)
    page.get_by_label("Text").fill(TEXT)
    page.get_by_role("button", name="Generate speech").click()
    return token


def test_the_first_piece_plays_while_the_task_is_still_processing(
    page: Page, web_server: WebServer, account: Account, held: Path
) -> None:
    token = _start(page, web_server, account, "Streamed reader")
    (held / "release-0").touch()

    live = page.locator(".live-status")
    expect(live).to_have_attribute("data-live", "playing", timeout=30_000)
    expect(live).to_have_attribute("data-audio-context", "running")
    expect(live.locator(".live-text")).to_have_text("Playing while generating…")
    task = _task(web_server, token)
    assert task["status"] == "processing"
    parts = task["audio_parts"]
    assert isinstance(parts, list) and [p["index"] for p in parts] == [0]
    # Heard from the first piece, with the rest not made yet.
    assert live.get_attribute("data-parts-played") == "1"

    # The first piece runs out with the rest still held: the page says it waits.
    expect(live).to_have_attribute("data-live", "waiting", timeout=2_000 + PIECE_SECONDS * 1000)
    expect(live.locator(".live-text")).to_have_text("Waiting for the next part…")
    live_handle = live.element_handle()

    (held / "release-all").touch()
    expect(page.get_by_role("heading", name="Your speech is ready")).to_be_visible(timeout=60_000)
    # The finished file takes over where the pieces had got to, and the pieces stop: the
    # speech goes on once, from about the end of the first piece, not from its start.
    player = page.locator(".progress-card .player")
    expect(player).to_have_attribute("data-state", "playing", timeout=15_000)
    at = float(player.locator(".wave").get_attribute("aria-valuenow") or 0)
    assert PIECE_SECONDS - 1 <= at <= PIECES * PIECE_SECONDS, at
    assert live_handle.get_attribute("data-live") == "off"
    assert live_handle.get_attribute("data-audio-context") == "none"

    # History keeps the finished generation, the length of all the pieces together.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    card = page.locator(".generation-card").first
    expect(card).to_contain_text("The first sentence is heard at once.")
    expect(card.locator(".status-badge")).to_have_text("completed")
    finished = _task(web_server, token)
    assert finished["status"] == "completed"
    assert [p["index"] for p in finished["audio_parts"]] == list(range(PIECES))  # type: ignore[union-attr]


def test_cancel_stops_the_live_playback(
    page: Page, web_server: WebServer, account: Account, held: Path
) -> None:
    _start(page, web_server, account, "Cancelled stream")
    (held / "release-0").touch()
    live = page.locator(".live-status")
    expect(live).to_have_attribute("data-live", "playing", timeout=30_000)
    live_handle = live.element_handle()

    page.locator(".progress-card").get_by_role("button", name="Cancel").click()
    # Silent at once, before the server has even answered.
    assert live_handle.get_attribute("data-live") == "off"
    assert live_handle.get_attribute("data-audio-context") == "none"
    expect(page.get_by_text("Generation was cancelled.")).to_be_visible()
    expect(page.locator(".live-status")).to_have_count(0)


def test_leaving_the_page_stops_the_sound_and_coming_back_offers_it(
    page: Page, web_server: WebServer, account: Account, held: Path
) -> None:
    _start(page, web_server, account, "Reloaded stream")
    (held / "release-0").touch()
    live = page.locator(".live-status")
    expect(live).to_have_attribute("data-live", "playing", timeout=30_000)
    live_handle = live.element_handle()

    # Going to another page of the app silences it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(r"/history$"))
    assert live_handle.get_attribute("data-live") == "off"
    assert live_handle.get_attribute("data-audio-context") == "none"

    # Coming back, or reloading, offers the pieces rather than playing them by itself:
    # starting sound on its own is a browser's to refuse without a click.
    page.go_back()
    expect(page.locator(".live-status")).to_have_attribute("data-live", "offer", timeout=15_000)
    page.reload()
    live = page.locator(".live-status")
    expect(live).to_have_attribute("data-live", "offer", timeout=15_000)
    expect(live).to_have_attribute("data-audio-context", "none")
    live.get_by_role("button", name="Listen while it is generated").click()
    expect(live).to_have_attribute("data-live", "playing")
    expect(live).to_have_attribute("data-audio-context", "running")

    (held / "release-all").touch()
    expect(page.get_by_role("heading", name="Your speech is ready")).to_be_visible(timeout=60_000)
    expect(page.locator(".progress-card .player")).to_have_attribute(
        "data-state", re.compile("playing|ended"), timeout=15_000
    )
