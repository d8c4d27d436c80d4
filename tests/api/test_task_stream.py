"""GET /api/tasks/{id}/stream over real HTTP (uvicorn), with a real worker whose engine's
chunks the test releases: the first bytes come before the task completes, every format
decodes with ffmpeg to the clip's length, and another user's or a bad request is refused."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import audio
from tests.support.api import TaskApi, sign_up
from tests.support.gated_engine import GatedEngine
from tests.support.server import app_settings, serve_asgi
from utter.api.owned import TASK_NOT_FOUND
from utter.app import create_app
from utter.audio import ffmpeg
from utter.cpu import CpuPool
from utter.db import Database
from utter.engines.join import PAUSE_SECONDS
from utter.engines.local import LocalEngine
from utter.jobs.worker import run_worker
from utter.services.audio_stream import PartsListener

TEXT = " ".join((*audio.SENTENCES, "Thank you for listening to this short test."))
FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@pytest.fixture(scope="module")
def local_engine() -> LocalEngine:
    # Short chunks, so a few sentences make several pieces.
    return LocalEngine(max_chunk_chars=120)


@dataclass
class Live(TaskApi):
    gate: GatedEngine
    database_url: str


@pytest.fixture
async def live(
    database_url: str, tmp_path: Path, local_engine: LocalEngine, cpu: CpuPool
) -> AsyncIterator[Live]:
    """Utter served by uvicorn (its own pool and loop, in a thread) and a worker in this
    loop speaking through a gated local engine, sharing the data dir."""
    gate = GatedEngine(local_engine, only=TEXT)
    data_dir = tmp_path / "data"

    def settings_for(url: str) -> Any:
        return app_settings(data_dir, database_url=database_url, public_url=url)

    with serve_asgi(lambda url: create_app(settings_for(url), cpu=cpu)) as url:
        worker = asyncio.create_task(
            run_worker(
                app_settings(data_dir, database_url=database_url, worker_heartbeat_seconds=0.5),
                database_url,
                engine=gate,
            )
        )
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                yield Live(client=client, gate=gate, database_url=database_url)
        finally:
            gate.open()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


def decoded_seconds(data: bytes, fmt: str) -> float:
    """How long `data` plays, decoded by ffmpeg (raw PCM: counted)."""
    if fmt == "pcm":
        return len(data) / 2 / 24_000
    result = ffmpeg.run(
        ["-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "-"],
        stdin=data,
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip() or fmt == "flac", result.stderr
    return len(result.stdout) / 2 / 24_000


async def test_the_first_bytes_arrive_before_the_task_completes(live: Live) -> None:
    user, voice = await live.user_with_voice()
    started = await live.generate(user, voice, TEXT)
    task_id = started["task_id"]
    live.gate.release(1)  # the first chunk only; the next waits for the test

    began = time.monotonic()
    async with live.client.stream(
        "GET", f"/api/tasks/{task_id}/stream", headers=user.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/mpeg"
        assert "content-length" not in response.headers  # chunked: its length is unknown
        chunks = response.aiter_raw()
        first = await asyncio.wait_for(anext(chunks), 60)
        first_byte = time.monotonic() - began
        assert first
        # Only the first chunk exists: the task is still being made, and waits on the gate.
        now = await live.task(user, task_id)
        assert now["status"] == "processing"
        assert now["chunks_done"] < (now["chunks_total"] or 99)
        assert [p["index"] for p in now["audio_parts"]] == [0]

        live.gate.open()
        rest = b"".join([chunk async for chunk in chunks])
        total = time.monotonic() - began
    done = await live.task(user, task_id)
    assert done["status"] == "completed"
    assert first_byte < total
    print(f"stream: first byte after {first_byte:.2f} s, whole stream {total:.2f} s")

    pieces = [p["duration_seconds"] for p in done["audio_parts"]]
    expected = sum(pieces) + PAUSE_SECONDS * (len(pieces) - 1)
    # MP3 adds an encoder delay and pads its last frame: a few hundredths of a second.
    assert decoded_seconds(first + rest, "mp3") == pytest.approx(expected, abs=0.15)


async def test_every_format_decodes_to_the_length_of_the_clip(live: Live) -> None:
    live.gate.open()
    user, voice = await live.user_with_voice()
    started = await live.generate(user, voice, TEXT)
    done = await live.wait_for(user, started["task_id"], within=120)
    assert done["status"] == "completed"
    generations = (await live.client.get("/api/generations", headers=user.headers)).json()
    clip_seconds = generations["generations"][0]["duration_seconds"]
    url = f"/api/tasks/{started['task_id']}/stream"

    for fmt, media_type in FORMATS.items():
        response = await live.client.get(url, params={"format": fmt}, headers=user.headers)
        assert response.status_code == 200, (fmt, response.text)
        assert response.headers["content-type"] == media_type
        assert response.headers.get("transfer-encoding") == "chunked"
        seconds = decoded_seconds(response.content, fmt)
        # Opus and AAC pad their start and end by a frame or two.
        assert seconds == pytest.approx(clip_seconds, abs=0.15), fmt
        if fmt == "wav":
            header = response.content[:44]
            assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
            assert struct.unpack("<I", header[40:44]) == (0xFFFFFFFF,)
            assert struct.unpack("<I", header[24:28]) == (24_000,)

    # A deleted generation has nothing left to stream.
    removed = await live.client.delete(
        f"/api/generations/{started['generation_id']}", headers=user.headers
    )
    assert removed.status_code == 200
    empty = await live.client.get(url, params={"format": "pcm"}, headers=user.headers)
    assert (empty.status_code, empty.content) == (200, b"")


async def test_a_task_swept_of_its_pieces_streams_its_finished_clip(live: Live) -> None:
    live.gate.open()
    user, voice = await live.user_with_voice()
    started = await live.generate(user, voice, "Hello there. This is the finished clip.")
    done = await live.wait_for(user, started["task_id"], within=120)
    assert done["status"] == "completed"
    async with Database(live.database_url) as db, db.as_service() as conn:
        await conn.execute(
            "update public.tasks set audio_parts = '[]'::jsonb where id = %s",
            (started["task_id"],),
        )
    clip = (await live.client.get("/api/generations", headers=user.headers)).json()
    response = await live.client.get(
        f"/api/tasks/{started['task_id']}/stream", params={"format": "pcm"}, headers=user.headers
    )
    assert decoded_seconds(response.content, "pcm") == pytest.approx(
        clip["generations"][0]["duration_seconds"], abs=0.01
    )


async def test_another_users_task_unknown_ids_and_bad_formats_are_refused(live: Live) -> None:
    live.gate.open()
    user, voice = await live.user_with_voice()
    other = await sign_up(live.client)
    started = await live.generate(user, voice, "Hello there.")
    url = f"/api/tasks/{started['task_id']}/stream"

    theirs = await live.client.get(url, headers=other.headers)
    assert (theirs.status_code, theirs.json()) == (404, {"detail": TASK_NOT_FOUND})
    for missing in ("00000000-0000-0000-0000-000000000000", "not-a-task"):
        unknown = await live.client.get(f"/api/tasks/{missing}/stream", headers=user.headers)
        assert (unknown.status_code, unknown.json()) == (404, {"detail": TASK_NOT_FOUND})
    for bad in ("ogg", "MP3x", ""):
        refused = await live.client.get(url, params={"format": bad}, headers=user.headers)
        assert refused.status_code == 400
        assert refused.json() == {
            "detail": "Format must be one of: mp3, opus, aac, flac, wav, pcm."
        }
    anonymous = await live.client.get(url)
    assert anonymous.status_code == 401
    await live.wait_for(user, started["task_id"], within=120)


async def test_the_listener_wakes_a_watcher_when_its_task_is_announced(
    database_url: str,
) -> None:
    listener = PartsListener(database_url)
    watched, other = uuid.uuid4(), uuid.uuid4()
    try:
        with listener.watch(watched) as woken:
            async with Database(database_url) as db:
                # The LISTEN connection is made on first use: announce until it hears.
                deadline = time.monotonic() + 10
                while not woken.is_set():
                    assert time.monotonic() < deadline, "never woken"
                    async with db.as_service() as conn:
                        await conn.execute(
                            "select pg_notify('utter_audio_parts', %s)", (str(other),)
                        )
                    await asyncio.sleep(0.05)
                woken.clear()  # the wake-up every watcher gets when the connection is made
                await asyncio.sleep(0.2)
                assert not woken.is_set()  # another task's announcement does not wake it
                async with db.as_service() as conn:
                    await conn.execute("select pg_notify('utter_audio_parts', %s)", (str(watched),))
                await asyncio.wait_for(woken.wait(), 2)
    finally:
        await listener.close()


async def test_a_faster_generation_streams_as_long_as_its_finished_clip(live: Live) -> None:
    live.gate.open()
    user, voice = await live.user_with_voice()
    response = await live.client.post(
        "/api/generate",
        json={"voice_id": voice, "text": TEXT, "language": "English", "speed": 2.0},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    started = response.json()
    assert (await live.wait_for(user, started["task_id"], within=120))["status"] == "completed"
    generations = (await live.client.get("/api/generations", headers=user.headers)).json()
    clip_seconds = generations["generations"][0]["duration_seconds"]
    streamed = await live.client.get(
        f"/api/tasks/{started['task_id']}/stream", params={"format": "pcm"}, headers=user.headers
    )
    # Pieces stretched one by one, with pauses halved too, against the clip stretched whole.
    assert decoded_seconds(streamed.content, "pcm") == pytest.approx(clip_seconds, abs=0.06)
