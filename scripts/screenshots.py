"""Screenshots of every page of the web app, at 1280 px and 390 px wide, light and dark.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--only clone,history]

Starts its own `utter serve` on a free port with a throwaway data dir (embedded Postgres),
signs up a user, adds a few voices and generations where the server can make them, then
saves `OUT/<page>-<width>-<theme>.png` (full page) with Debian's Chromium. Prints the
list of files; anything the server could not seed is said, not hidden.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "utter" / "web" / "assets" / "examples"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {1280: 900, 390: 844}
THEMES = ("light", "dark")

# name, path, signed in?, what to wait for before the shot
PAGES: list[tuple[str, str, bool, str]] = [
    ("landing", "/", False, "h1"),
    ("about", "/about", False, "h1"),
    ("privacy", "/privacy", False, "h1"),
    ("terms", "/terms", False, "h1"),
    ("sign-in", "/auth", False, "form"),
    ("sign-up", "/auth?intent=sign_up", False, "form"),
    ("magic-link", "/auth?method=magic_link", False, "form"),
    ("not-found", "/no/such/page", False, "h1"),
    ("clone", "/clone", True, "form"),
    ("clone-report", "/clone", True, "form"),
    ("generate", "/generate", True, "form"),
    ("design", "/design", True, "form"),
    ("voices", "/voices", True, "[aria-busy=false]"),
    ("history", "/history", True, "[aria-busy=false]"),
    ("account", "/account", True, "form"),
    ("usage", "/account/usage", True, "dl"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def utter_serve(data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("UTTER_") and k != "DATABASE_URL"
    }
    env["UTTER_DATA_DIR"] = str(data_dir)
    log_path = data_dir / "serve.log"
    # The server's log goes to a file: a pipe nobody reads would fill up and stall it.
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 180
        while "Utter is running at" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"utter serve did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def sign_up(base: str) -> dict[str, Any]:
    email = f"screens-{uuid.uuid4().hex[:8]}@example.test"
    response = httpx.post(
        f"{base}/auth/v1/signup", json={"email": email, "password": "screenshots"}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def seed(base: str, session: dict[str, Any]) -> tuple[list[str], str | None]:
    """A profile, a cloned voice and a finished generation, as far as the server allows.
    Returns notes on what could not be made, and the generation's task id."""
    notes: list[str] = []
    task_id: str | None = None
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        http.patch("/api/profile", json={"display_name": "Sam Example", "handle": "sam_example"})
        examples = json.loads((EXAMPLES / "examples.json").read_text())["examples"]
        if not examples:
            notes.append("no example clip to clone from; voices and history stay empty")
            return notes, task_id
        example = examples[0]
        reference = EXAMPLES / example["file_name"]
        made = http.post(
            "/api/clone/upload-url",
            json={"name": "Example narrator", "language": "English", "transcript": "x"},
        )
        if made.status_code == 404:
            notes.append("the server has no clone routes yet; voices and history stay empty")
            return notes, task_id
        made.raise_for_status()
        target = made.json()
        transcript = example["transcript"]
        put = httpx.put(
            httpx.URL(base).join(target["upload_url"]),
            content=reference.read_bytes(),
            headers={"Content-Type": "audio/wav"},
            timeout=60,
        )
        put.raise_for_status()
        voice = http.post(
            "/api/clone/finalize",
            json={
                "voice_id": target["voice_id"],
                "name": "Example narrator",
                "language": "English",
                "transcript": transcript,
            },
        ).json()
        started = http.post(
            "/api/generate",
            json={
                "voice_id": voice["id"],
                "text": "Hello from Utter. This is a short example.",
                "language": "English",
            },
        )
        if started.status_code == 404:
            notes.append("the server has no generate route yet; history stays empty")
            return notes, task_id
        task_id = started.json()["task_id"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            task = http.get(f"/api/tasks/{task_id}").json()
            if task["status"] not in ("pending", "processing"):
                break
            time.sleep(1)
        else:
            notes.append("the example generation did not finish in 3 minutes")
    return notes, task_id


def clone_the_example(page: Page) -> None:
    """Clone's second state: the reference report after cloning the example clip."""
    page.get_by_role("button", name="Try the example voice").click()
    page.wait_for_selector(".chosen .player")
    page.get_by_label("Voice name").fill(f"Example {uuid.uuid4().hex[:4]}")
    page.get_by_role("button", name="Clone voice").click()
    page.wait_for_selector(".report", timeout=120_000)


ACTIONS = {"clone-report": clone_the_example}


def shoot(page: Page, base: str, name: str, path: str, wait_for: str, out: Path) -> None:
    page.goto(base + path)
    page.wait_for_selector(wait_for, state="attached")
    if name in ACTIONS:
        ACTIONS[name](page)
    # A page that polls (a running task) never goes quiet; then shoot it as it is.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=5000)
    page.wait_for_timeout(300)  # canvas redraws
    page.screenshot(path=str(out), full_page=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--only", help="comma-separated page names")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="utter-screens-") as tmp,
        utter_serve(Path(tmp)) as base,
    ):
        session = sign_up(base)
        notes, task_id = seed(base, session)
        for note in notes:
            print(f"note: {note}")
        stored = {
            "access_token": session["access_token"],
            "refresh_token": session["refresh_token"],
            "token_type": "bearer",
            "expires_at": session.get("expires_at")
            or int(time.time()) + int(session["expires_in"]),
            "user": session["user"],
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for width, height in WIDTHS.items():
                for theme in THEMES:
                    for signed_in in (False, True):
                        context = browser.new_context(viewport={"width": width, "height": height})
                        stored_items = {"utter_theme": theme}
                        if signed_in:
                            stored_items["utter_session"] = json.dumps(stored)
                            if task_id:  # Generate then shows the finished example
                                key = f"utter_generate_task:{session['user']['id']}"
                                stored_items[key] = json.dumps(task_id)
                        script = "".join(
                            f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                            for k, v in stored_items.items()
                        )
                        context.add_init_script(script)
                        page = context.new_page()
                        for name, path, needs_user, wait_for in PAGES:
                            if needs_user != signed_in or (wanted and name not in wanted):
                                continue
                            out = args.out / f"{name}-{width}-{theme}.png"
                            shoot(page, base, name, path, wait_for, out)
                            written.append(out)
                        context.close()
            browser.close()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
