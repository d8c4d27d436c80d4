"""One user's heavy request never stalls another's light one: transcription runs in the
API's CPU processes, so the event loop keeps answering while it works."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support import audio
from tests.support.api import sign_up

pytestmark = pytest.mark.slow


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

        transcribing = asyncio.create_task(
            client.post(
                "/api/transcriptions", headers=user.headers, files={"audio": ("b.wav", long)}
            )
        )
        await asyncio.sleep(1.0)  # the upload is in and the recogniser has started
        assert not transcribing.done()
        for _ in range(5):
            assert (await client.get("/api/health")).status_code == 200
            assert (await client.get("/api/voices", headers=other.headers)).status_code == 200
        # Ten answers came back while the transcription was still being worked out.
        assert not transcribing.done()
        result = await transcribing
        assert result.status_code == 200, result.text
        assert result.json()["text"]
