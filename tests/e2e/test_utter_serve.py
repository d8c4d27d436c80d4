"""The product end to end over HTTP, against a real `utter serve` process with the local
engine: clone, generate 1,000 characters, download; design, save, generate."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import audio, serve_process
from tests.support.postgres import create_database

PARAGRAPH = (
    "The weather is nice today, so we will walk to the park after lunch. "
    "My brother likes to read books in the garden, and my sister plays the piano. "
    "Please call me when you get home tonight, because we need to plan the weekend. "
    "We need to buy some bread and milk before the store closes at eight. "
    "After dinner we can sit outside and talk about the trip we took last summer. "
    "The train was late, but the view from the window made up for every minute. "
    "We saw green hills, small towns, and a river that shone in the evening light. "
    "Next year we hope to go again, and this time we will stay a little longer. "
    "Until then, we will keep the photos on the wall and remember the good days. "
    "On Sunday morning we will make pancakes and drink coffee in the kitchen. "
    "Later we might visit our friends who live near the lake on the other side of town. "
    "They have a small boat, and if the wind is calm we can go out on the water. "
    "Thank you for listening, and have a very good night."
)


@pytest.fixture(scope="module")
def utter_serve(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m utter serve` on a fresh database (it migrates it itself)."""
    database = create_database(pg_server_url)
    with serve_process.utter_serve(
        tmp_path_factory.mktemp("serve"), {"DATABASE_URL": database}
    ) as (_, url):
        yield url


def _wait(client: httpx.Client, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while True:
        task: dict[str, Any] = client.get(f"/api/tasks/{task_id}", headers=headers).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.5)


def _download_wav(client: httpx.Client, headers: dict[str, str], path: str) -> float:
    redirect = client.get(path, headers=headers)
    assert redirect.status_code == 302, redirect.text
    response = client.get(redirect.headers["location"])
    assert response.status_code == 200
    with wave.open(io.BytesIO(response.content)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        return reader.getnframes() / reader.getframerate()


def _sign_up(client: httpx.Client) -> dict[str, str]:
    email = f"e2e-{time.monotonic_ns()}@example.test"
    session = client.post("/auth/v1/signup", json={"email": email, "password": "secret-pass"})
    assert session.status_code == 200, session.text
    return {"Authorization": f"Bearer {session.json()['access_token']}"}


@pytest.mark.slow
def test_clone_generate_a_thousand_characters_and_download(utter_serve: str) -> None:
    assert 950 <= len(PARAGRAPH) <= 1100
    with httpx.Client(base_url=utter_serve, timeout=60) as client:
        headers = _sign_up(client)
        upload = client.post(
            "/api/clone/upload-url",
            json={"name": "Reader", "language": "English", "transcript": audio.TEXT},
            headers=headers,
        ).json()
        put = client.put(upload["upload_url"], content=audio.encode(audio.speech(), "m4a"))
        assert put.status_code < 300, put.text
        voice = client.post(
            "/api/clone/finalize",
            json={
                "voice_id": upload["voice_id"],
                "name": "Reader",
                "language": "English",
                "transcript": audio.TEXT,
            },
            headers=headers,
        )
        assert voice.status_code == 200, voice.text
        assert voice.json()["report"]["warnings"] is not None

        started = client.post(
            "/api/generate",
            json={"voice_id": voice.json()["id"], "text": PARAGRAPH, "language": "English"},
            headers=headers,
        )
        assert started.status_code == 200, started.text
        task = _wait(client, headers, started.json()["task_id"])
        assert task["status"] == "completed", task
        assert task["chunks_total"] >= 3 and task["chunks_done"] == task["chunks_total"]
        seconds = _download_wav(client, headers, task["result"]["audio_url"])
        # Read aloud, 1,000 characters take about a minute: 12-20 characters a second.
        assert len(PARAGRAPH) / 25 < seconds < len(PARAGRAPH) / 8, seconds
        history = client.get("/api/generations", headers=headers).json()["generations"]
        assert history[0]["duration_seconds"] == pytest.approx(seconds, abs=0.01)


@pytest.mark.slow
def test_design_a_voice_save_it_and_generate_with_it(utter_serve: str) -> None:
    with httpx.Client(base_url=utter_serve, timeout=60) as client:
        headers = _sign_up(client)
        preview = client.post(
            "/api/voices/design/preview",
            json={
                "text": "Good evening, and welcome to the late news on our little station.",
                "language": "English",
                "instruct": "A bright, fast, young female voice.",
            },
            headers=headers,
        )
        assert preview.status_code == 200, preview.text
        task = _wait(client, headers, preview.json()["task_id"])
        assert task["status"] == "completed", task
        saved = client.post(
            "/api/voices/design",
            json={"task_id": task["id"], "name": "Anchor"},
            headers=headers,
        )
        assert saved.status_code == 200, saved.text
        voices = client.get("/api/voices", params={"source": "designed"}, headers=headers).json()
        assert [v["name"] for v in voices["voices"]] == ["Anchor"]
        started = client.post(
            "/api/generate",
            json={"voice_id": saved.json()["id"], "text": "The designed voice reads the news."},
            headers=headers,
        )
        assert started.status_code == 200, started.text
        done = _wait(client, headers, started.json()["task_id"])
        assert done["status"] == "completed", done
        assert _download_wav(client, headers, done["result"]["audio_url"]) > 1.0
