"""POST /api/transcriptions with a remote provider: the transcriber's errors are domain
errors, and the API's one error mapping answers for them with the same words as ever."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.api import sign_up
from tests.support.audio import encode, speech
from tests.support.server import app_settings
from tests.transcription.conftest import FakeProvider
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.errors import Unavailable, Unprocessable, UpstreamFailed
from utter.transcription import (
    TranscriptionDisabled,
    TranscriptionError,
    UnsupportedLanguageError,
)


def test_transcription_errors_are_domain_errors() -> None:
    failed = TranscriptionError("Mistral transcription failed (500): Internal failure")
    assert isinstance(failed, UpstreamFailed)
    assert failed.message == (
        "Transcription request failed: Mistral transcription failed (500): Internal failure"
    )
    assert isinstance(UnsupportedLanguageError("English only."), Unprocessable)
    disabled = TranscriptionDisabled()
    assert isinstance(disabled, Unavailable)
    # Off until an operator turns it on: nothing to retry after.
    assert disabled.retry_after is None


async def test_a_failing_provider_answers_502_in_the_providers_words(
    db: Database, cpu: CpuPool, tmp_path: Path, fake_provider: FakeProvider
) -> None:
    settings = app_settings(
        tmp_path / "data",
        transcription_provider="mistral",
        transcription_api_key="test-key",
        transcription_base_url=fake_provider.url,
    )
    app = create_app(settings, db=db, cpu=cpu)
    fake_provider.status, fake_provider.body = 500, {"message": "Internal failure"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        user = await sign_up(client)
        response = await client.post(
            "/api/transcriptions",
            files={"audio": ("a.wav", encode(speech("Good morning."), "wav"))},
            data={"language": "English"},
            headers=user.headers,
        )
    assert (response.status_code, response.json()) == (
        502,
        {
            "detail": "Transcription request failed: "
            "Mistral transcription failed (500): Internal failure"
        },
    )
    assert len(fake_provider.received) == 1
