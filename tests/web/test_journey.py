"""A new user's whole journey in the browser against a real Utter (its in-process worker
and the local engine): sign up, clone from an uploaded file, read the reference report,
generate and follow it in the task dock, play and download, find it in History, design a
voice and generate with it, delete a voice, sign out and back in. Then the parts that need
a closer look: a reload in the middle of a generation, cancelling, the voice picker beyond
the first page, URL-synced lists and one player at a time."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
from playwright.sync_api import Page, expect

from tests.web.conftest import Account, Watcher, WebServer, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "utter" / "web" / "assets" / "examples"
EXAMPLE = json.loads((EXAMPLES / "examples.json").read_text())["examples"][0]
EXAMPLE_WAV = EXAMPLES / EXAMPLE["file_name"]
GENERATION_S = 240_000  # ms: CPU synthesis on a busy 2-core machine
LONG_TEXT = " ".join(
    f"This is sentence number {n} of a longer passage, read so that the task runs for a while."
    for n in range(1, 9)
)


# The painted height (in pixels) of each column of a waveform canvas.
WAVE_HEIGHTS = """c => {
  const {data, width, height} = c.getContext('2d').getImageData(0, 0, c.width, c.height);
  const heights = [];
  for (let x = 0; x < width; x += 1) {
    let n = 0;
    for (let y = 0; y < height; y += 1) if (data[(y * width + x) * 4 + 3] > 0) n += 1;
    if (n) heights.push(n);
  }
  return heights;
}"""


def token_for(web_server: WebServer, account: Account) -> str:
    response = httpx.post(
        f"{web_server.url}/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": account.email, "password": account.password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def clone_by_api(web_server: WebServer, token: str, name: str) -> str:
    """A voice made through POST /api/clone (one request), for tests about other pages."""
    response = httpx.post(
        f"{web_server.url}/api/clone",
        headers={"Authorization": f"Bearer {token}"},
        data={"name": name, "language": "English", "transcript": EXAMPLE["transcript"]},
        files={"audio": (EXAMPLE_WAV.name, EXAMPLE_WAV.read_bytes(), "audio/wav")},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def dock(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("region", name="Tasks")


def test_a_new_users_journey(page: Page, web_server: WebServer) -> None:
    email = f"journey-{uuid.uuid4().hex[:10]}@example.test"

    # Sign up; the app opens Clone.
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill("journey password")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/clone$"))

    # Clone from an uploaded file; the live checks follow along.
    checks = page.get_by_role("list", name="Checks before cloning")
    expect(checks).to_contain_text("Missing: A name")
    page.get_by_label("Voice name").fill("Journey voice")
    page.locator("#clone-file").set_input_files(EXAMPLE_WAV)
    expect(page.locator(".chosen-name")).to_contain_text(f"{EXAMPLE_WAV.name} •")
    expect(page.locator(".chosen .player")).to_be_visible()
    page.get_by_label("Language").select_option("English")
    page.get_by_label("Transcript").fill(EXAMPLE["transcript"])
    expect(checks).to_contain_text("Done: Reference audio chosen")
    expect(checks).to_contain_text("Done: A transcript")
    page.get_by_role("button", name="Clone voice").click()

    # The reference report comes before going on.
    expect(page.get_by_role("heading", name="Voice “Journey voice” is ready")).to_be_visible(
        timeout=60_000
    )
    expect(page.locator("[data-fact=duration]")).to_contain_text("s")
    expect(page.locator("[data-fact=speech]")).to_contain_text("% of the clip")
    expect(page.locator("[data-fact=clipping]")).to_be_visible()
    expect(page.locator("[data-fact=loudness]")).to_contain_text("LUFS")
    page.get_by_role("link", name="Go to Generate →").click()

    # Generate with the voice already chosen; follow it in the task dock.
    expect(page).to_have_url(re.compile(r"/generate$"))
    expect(page.get_by_role("combobox", name="Voice")).to_have_value("Journey voice")
    text = "Hello from the journey test. Utter reads this in my cloned voice."
    page.get_by_label("Text").fill(text)
    expect(page.locator(".counter").filter(has_text="/ 10,000")).to_have_text(
        f"{len(text)} / 10,000"
    )
    page.get_by_role("button", name="Generate speech").click()
    row = dock(page).locator(".dock-row").first
    expect(row).to_contain_text("Generate: Hello from the journe")
    expect(page.get_by_role("heading", name="Your speech is ready")).to_be_visible(
        timeout=GENERATION_S
    )
    expect(row).to_contain_text("Ready")
    expect(page.locator(".badge")).to_be_hidden()  # nothing is running any more

    # Play it, and download it as WAV and as MP3.
    player = page.locator(".progress-card .player")
    page.get_by_role("button", name="Play generated speech").click()
    expect(player).to_have_attribute("data-state", re.compile("playing|ended"))
    with page.expect_download() as wav:
        page.get_by_role("button", name="Download WAV").click()
    assert wav.value.suggested_filename.endswith(".wav")
    assert Path(wav.value.path()).read_bytes()[:4] == b"RIFF"
    with page.expect_download() as mp3:
        page.get_by_role("button", name="Download MP3").click()
    assert mp3.value.suggested_filename.endswith(".mp3")
    head = Path(mp3.value.path()).read_bytes()[:3]
    assert head == b"ID3" or head[0] == 0xFF

    # Find it in History, with a waveform drawn from the stored peaks.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    card = page.locator(".generation-card").first
    expect(card).to_contain_text("Journey voice")
    expect(card.locator(".status-badge")).to_have_text("completed")
    # Bars of different heights before anything is loaded: the stored peaks, not the flat
    # placeholder a player without peaks draws (2 px everywhere).
    tallest = card.locator("canvas").evaluate(WAVE_HEIGHTS)
    assert max(tallest) > 10 and min(tallest) < max(tallest)
    page.get_by_label("Search the text").fill("journey test")
    expect(page).to_have_url(re.compile(r"/history\?search=journey\+test$"))
    expect(page.locator(".generation-card")).to_have_count(1)
    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.locator(".generation-card")).to_have_count(0)

    # Design a voice (shortcut D), save it, and generate with it.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("d")
    expect(page).to_have_url(re.compile(r"/design$"))
    page.get_by_role("button", name="Warm & steady").click()
    expect(page.get_by_label("Voice description")).to_have_value(re.compile("warm, steady"))
    page.get_by_label("Voice name").fill("Designed journey")
    page.get_by_role("button", name="Generate preview").click()
    expect(page.get_by_role("heading", name="Preview ready")).to_be_visible(timeout=GENERATION_S)
    page.get_by_role("button", name="Save voice").click()
    expect(page.get_by_text("Voice “Designed journey” saved and ready to use.")).to_be_visible()
    page.get_by_role("link", name="Use voice").click()
    expect(page).to_have_url(re.compile(r"/generate$"))
    expect(page.get_by_role("combobox", name="Voice")).to_have_value("Designed journey")
    page.get_by_label("Text").fill("A designed voice says hello.")
    page.get_by_role("button", name="Generate speech").click()
    expect(page.get_by_role("heading", name="Your speech is ready")).to_be_visible(
        timeout=GENERATION_S
    )

    # Delete the cloned voice, after confirming.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Voices").click()
    cloned = page.locator(".voice-card").filter(has_text="Journey voice")
    cloned.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete “Journey voice”?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Delete").click()
    expect(cloned).to_have_count(0)
    expect(page.locator(".voice-card")).to_have_count(1)

    # Sign out, and back in: the designed voice is still there.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    sign_in(page, Account(email, "journey password"), return_to="/voices")
    expect(page.locator(".voice-card")).to_have_count(1)
    expect(page.locator(".voice-card")).to_contain_text("Designed journey")


def test_a_reload_mid_generation_keeps_following_it(
    page: Page, web_server: WebServer, account: Account
) -> None:
    voice_id = clone_by_api(web_server, token_for(web_server, account), "Long reader")
    sign_in(page, account, return_to=f"/generate?voice={voice_id}")
    expect(page.get_by_role("combobox", name="Voice")).to_have_value("Long reader")
    page.get_by_label("Text").fill(LONG_TEXT)
    page.get_by_role("button", name="Generate speech").click()
    expect(page.locator(".progress-status")).to_be_visible()

    page.reload()
    # The dock and the page both pick the running task up again from the server.
    row = dock(page).locator(".dock-row").first
    expect(row).to_contain_text("Generate: This is sentence")
    expect(page.get_by_role("combobox", name="Voice")).to_have_value("Long reader")
    expect(page.get_by_label("Text")).to_have_value(LONG_TEXT)

    # History, open in another tab, shows it running and refreshes itself when it is done.
    other = page.context.new_page()
    other.goto("/history")
    card = other.locator(".generation-card").first
    expect(card.locator(".status-badge")).to_have_text(re.compile("^(pending|processing)$"))
    expect(card).to_contain_text("Generating…")

    expect(page.get_by_role("heading", name="Your speech is ready")).to_be_visible(
        timeout=GENERATION_S
    )
    expect(row).to_contain_text("Ready")
    expect(card.locator(".status-badge")).to_have_text("completed", timeout=20_000)
    expect(card.get_by_role("button", name=re.compile("^Play"))).to_be_visible()

    # Regenerate goes back to Generate with the voice and the text filled in.
    card.get_by_role("button", name="Regenerate").click()
    expect(other).to_have_url(re.compile(r"/generate$"))
    expect(other.get_by_label("Text")).to_have_value(LONG_TEXT)
    expect(other.get_by_role("combobox", name="Voice")).to_have_value("Long reader")

    # The other tab's dock shows the same finished task; dismissing it there clears it here.
    other_row = dock(other).locator(".dock-row").first
    expect(other_row).to_contain_text("Ready")
    other_row.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(dock(other)).to_be_hidden()
    expect(dock(page)).to_be_hidden(timeout=15_000)


def test_cancelling_from_the_dock_stops_the_generation(
    page: Page, web_server: WebServer, account: Account
) -> None:
    voice_id = clone_by_api(web_server, token_for(web_server, account), "Cancelled reader")
    sign_in(page, account, return_to=f"/generate?voice={voice_id}")
    page.get_by_label("Text").fill(LONG_TEXT * 3)
    page.get_by_role("button", name="Generate speech").click()
    row = dock(page).locator(".dock-row").first
    row.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(row).to_contain_text("Cancelled")
    expect(page.get_by_text("Generation was cancelled.")).to_be_visible()
    # The guard against two at once is free again.
    expect(page.get_by_role("button", name="Generate speech")).to_be_enabled()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page.locator(".generation-card").first.locator(".status-badge")).to_have_text(
        "cancelled"
    )

    # Deleting it from History asks first.
    page.locator(".generation-card").first.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this generation?")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator(".generation-card")).to_have_count(0)
    expect(page.get_by_text("Nothing generated yet.")).to_be_visible()


def test_the_voice_picker_reaches_past_the_first_twenty(
    page: Page, web_server: WebServer, account: Account
) -> None:
    token = token_for(web_server, account)
    for n in range(1, 23):
        clone_by_api(web_server, token, f"Voice {n:02d}")
    sign_in(page, account, return_to="/generate")
    picker = page.get_by_role("combobox", name="Voice")
    picker.click()
    listbox = page.get_by_role("listbox", name="Voices")
    expect(listbox.get_by_role("option")).to_have_count(21)  # 20 and "Show more"
    listbox.get_by_role("option", name=re.compile("^Show more")).click()
    expect(listbox.get_by_role("option", name=re.compile("^Voice 01"))).to_be_visible()
    # Searching asks the server, so the oldest voice is one keystroke away.
    picker.fill("Voice 01")
    expect(listbox.get_by_role("option")).to_have_count(1)
    picker.press("ArrowDown")
    picker.press("Enter")
    expect(picker).to_have_value("Voice 01")
    expect(listbox).to_be_hidden()

    # Voices: 20 a page, the page and filters in the URL, Back restores them.
    page.goto("/voices")
    expect(page.locator(".voice-card")).to_have_count(20)
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/voices\?page=2$"))
    expect(page.locator(".voice-card")).to_have_count(2)
    page.go_back()
    expect(page.locator(".voice-card")).to_have_count(20)
    page.get_by_label("Source").select_option("designed")
    expect(page).to_have_url(re.compile(r"source=designed"))
    expect(page.get_by_text("No voices match these filters.")).to_be_visible()
    page.goto("/voices?search=Voice+0&page=1")
    expect(page.get_by_label("Search by name")).to_have_value("Voice 0")
    expect(page.locator(".voice-card")).to_have_count(9)
    # Each word searched for is marked.
    expect(page.locator(".voice-card").first.locator("mark")).to_have_text(["Voice", "0"])


def test_voices_preview_rename_and_one_player_at_a_time(
    page: Page, web_server: WebServer, account: Account
) -> None:
    token = token_for(web_server, account)
    clone_by_api(web_server, token, "First")
    clone_by_api(web_server, token, "Second")
    sign_in(page, account, return_to="/voices")
    first = page.locator(".voice-card").filter(has_text="First")
    second = page.locator(".voice-card").filter(has_text="Second")
    first.get_by_role("button", name="Preview").click()
    expect(first.locator(".player")).to_have_attribute("data-state", "playing")
    second.get_by_role("button", name="Preview").click()
    expect(second.locator(".player")).to_have_attribute("data-state", re.compile("playing|ended"))
    expect(first.locator(".player")).to_have_attribute("data-state", re.compile("paused|ended"))

    # The seek bar works from the keyboard.
    slider = second.get_by_role("slider")
    second.get_by_role("button", name=re.compile("^Pause")).click()
    slider.focus()
    slider.press("Home")
    expect(slider).to_have_attribute("aria-valuenow", "0")
    slider.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuenow", "5")

    first.get_by_role("button", name="Rename").click()
    field = first.get_by_label("New name for First")
    field.fill("First, renamed")
    field.press("Enter")
    expect(page.locator(".voice-card").filter(has_text="First, renamed")).to_have_count(1)
    page.reload()
    expect(page.locator(".voice-card").filter(has_text="First, renamed")).to_have_count(1)


def test_languages_on_the_landing_page_come_from_the_server(
    page: Page, web_server: WebServer
) -> None:
    languages = httpx.get(f"{web_server.url}/api/languages", timeout=30).json()["languages"]
    n = len([name for name in languages if name != "Auto"])
    page.goto("/")
    expect(page.locator(".language-count")).to_have_text(
        f"{n} {'language' if n == 1 else 'languages'} supported by this server"
    )


def test_try_the_example_voice_fills_the_clone_form(page: Page, account: Account) -> None:
    sign_in(page, account, return_to="/clone")
    page.get_by_role("button", name="Try the example voice").click()
    expect(page.locator(".chosen-name")).to_contain_text("(example made by Utter)")
    expect(page.get_by_label("Voice name")).to_have_value(EXAMPLE["name"])
    expect(page.get_by_label("Transcript")).to_have_value(EXAMPLE["transcript"])


def test_recording_in_the_browser_gives_a_reference_clip(page: Page, account: Account) -> None:
    # Chromium's fake microphone plays a steady beep.
    sign_in(page, account, return_to="/clone")
    page.get_by_role("radio", name="Record").check()
    started = time.monotonic()
    page.get_by_role("button", name="Start recording").click()
    expect(page.get_by_role("timer", name="Recording time")).to_have_text("0:04", timeout=10_000)
    expect(page.get_by_role("meter", name="Input level")).not_to_have_attribute("value", "0")
    page.get_by_role("button", name="Stop recording").click()
    stopped = time.monotonic()
    chosen = page.locator(".chosen-name")
    expect(chosen).to_contain_text(re.compile(r"Your recording • [\d.]+ KB • \d+:\d\d"))
    # The clip is as long as the recording ran: at least 3 s after the timer showed 4 (the
    # last moment of capture is still in the browser's audio pipeline when Stop is pressed,
    # and the clip's m:ss is rounded down, so 4 s on the timer can read 0:03), at most the
    # time between the two clicks (which a busy machine stretches).
    found = re.search(r"(\d+):(\d\d)\s*$", chosen.inner_text().strip())
    assert found is not None
    seconds = int(found[1]) * 60 + int(found[2])
    assert 3 <= seconds <= stopped - started + 1, (seconds, stopped - started)
    expect(page.get_by_role("button", name="Record again")).to_be_enabled()


def test_the_clone_page_explains_what_is_wrong(
    page: Page, account: Account, watcher: Watcher, tmp_path: Path
) -> None:
    sign_in(page, account, return_to="/clone")
    # Not audio at all: refused in the browser, before anything is sent.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording")
    page.get_by_label("Voice name").fill("Too short")
    page.locator("#clone-file").set_input_files(notes)
    page.get_by_label("Transcript").fill("Hi.")
    page.get_by_role("button", name="Clone voice").click()
    expect(page.get_by_role("alert")).to_contain_text("Before cloning: the file is WAV, MP3")

    # Audio the server will not take (a one-second tone): its own words are shown.
    watcher.expect(r"/api/clone/finalize$")
    short = tmp_path / "short.wav"
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    soundfile.write(short, tone.astype(np.float32), 16000, subtype="PCM_16")
    page.locator("#clone-file").set_input_files(short)
    checks = page.get_by_role("list", name="Checks before cloning")
    expect(checks).to_contain_text("Warning: Length 0:01: 3 seconds to 5 minutes works best")
    page.get_by_role("button", name="Clone voice").click()
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^The recording is .* long; it must be at least 3")
    )
    expect(page.get_by_role("button", name="Clone voice")).to_be_enabled()
