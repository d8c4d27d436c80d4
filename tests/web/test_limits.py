"""The forms check the length rules the server states at GET /api/limits, and say its
numbers: what the browser refuses is what the server would refuse."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Account, WebServer, sign_in

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "utter" / "web" / "assets" / "examples"
EXAMPLE_WAV = (
    EXAMPLES / json.loads((EXAMPLES / "examples.json").read_text())["examples"][0]["file_name"]
)


def test_the_clone_form_refuses_a_description_over_the_servers_limit(
    page: Page, web_server: WebServer, account: Account
) -> None:
    limit = httpx.get(f"{web_server.url}/api/limits", timeout=30).json()["voice_description_max"]
    sign_in(page, account, return_to="/clone")
    page.get_by_label("Voice name").fill("Long story")
    page.locator("#clone-file").set_input_files(EXAMPLE_WAV)
    page.get_by_label("Transcript").fill("Hello there.")
    description = page.get_by_label("Description (optional)")
    counter = page.locator(".counter").filter(has_text=f"/ {limit:,}")
    expect(counter).to_have_text(f"0 / {limit:,}")

    # A description the server takes is taken here too…
    description.fill("x" * limit)
    expect(counter).to_have_text(f"{limit:,} / {limit:,}")
    checks = page.get_by_role("list", name="Checks before cloning")
    expect(checks).not_to_contain_text("A description")

    # …and one character more is refused in words with the server's number, not cut short.
    description.fill("x" * (limit + 1))
    expect(description).to_have_value("x" * (limit + 1))
    expect(checks).to_contain_text(f"Missing: A description of at most {limit:,} characters")
    page.get_by_role("button", name="Clone voice").click()
    expect(page.get_by_role("alert")).to_have_text(
        f"Before cloning: a description of at most {limit:,} characters."
    )
