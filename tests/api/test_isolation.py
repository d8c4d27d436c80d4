"""One user's heavy request never stalls another's light one: transcription runs in the
API's CPU processes, so the event loop keeps answering while it works."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import psutil
import pytest

from tests.support import audio
from tests.support.api import sign_up

pytestmark = pytest.mark.slow


def _cpu_process_seconds() -> float:
    """CPU time used so far by the spawned processes under this one: the live server's
    CPU processes (it runs in a thread of the test process)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(child.cmdline()):
                times = child.cpu_times()
                total += times.user + times.system
    return total


async def test_health_and_lists_answer_while_a_long_transcription_runs(live_server: str) -> None:
    short = audio.encode(audio.speech(), "wav")
    # About 45 s of speech: several seconds of recogniser CPU, which on a single event
    # loop thread would hold every other request until it finished.
    long = audio.encode(audio.concat(*([audio.speech()] * 4)), "wav")
    async with httpx.AsyncClient(base_url=live_server, timeout=300) as client:
        user = await sign_up(client)
        other = await sign_up(client)
        warm = await client.post(
            "/api/transcriptions", headers=user.headers, files={"audio": ("a.wav", short)}
        )
        assert warm.status_code == 200, warm.text

        idle = _cpu_process_seconds()
        transcribing = asyncio.create_task(
            client.post(
                "/api/transcriptions", headers=user.headers, files={"audio": ("b.wav", long)}
            )
        )
        # Wait until the upload is in and the recogniser has started: a CPU process works.
        deadline = time.monotonic() + 120
        while _cpu_process_seconds() <= idle:
            assert not transcribing.done() and time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert not transcribing.done()
        for _ in range(5):
            assert (await client.get("/api/health")).status_code == 200
            assert (await client.get("/api/voices", headers=other.headers)).status_code == 200
        # Ten answers came back while the transcription was still being worked out.
        assert not transcribing.done()
        result = await transcribing
        assert result.status_code == 200, result.text
        assert result.json()["text"]
