"""The settings choose the transcriber; its status is what GET /api/languages shows."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from utter.settings import Settings
from utter.transcription import (
    DisabledTranscriber,
    OfflineTranscriber,
    RemoteTranscriber,
    TranscriptionDisabled,
    create_transcriber,
    status_of,
)


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_offline_is_the_default() -> None:
    transcriber = create_transcriber(Settings())
    assert isinstance(transcriber, OfflineTranscriber)
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "offline",
        "model": "pocketsphinx-en-us",
    }


def test_offline_transcription_takes_as_long_a_clip_as_a_reference() -> None:
    transcriber = create_transcriber(settings(reference_max_seconds=120))
    assert isinstance(transcriber, OfflineTranscriber)
    assert transcriber.max_seconds == 120


async def test_none_switches_transcription_off() -> None:
    transcriber = create_transcriber(settings(transcription_provider="none"))
    assert isinstance(transcriber, DisabledTranscriber)
    assert status_of(transcriber).model_dump() == {
        "enabled": False,
        "provider": "none",
        "model": "",
    }
    with pytest.raises(TranscriptionDisabled):
        await transcriber.transcribe(b"x", "a.wav", "English")


def test_mistral_from_settings() -> None:
    transcriber = create_transcriber(
        settings(
            transcription_provider="mistral",
            transcription_api_key=SecretStr("secret"),
            transcription_timeout_seconds=5,
        )
    )
    assert isinstance(transcriber, RemoteTranscriber)
    assert transcriber.url == "https://api.mistral.ai/v1/audio/transcriptions"
    assert transcriber.timeout == 5
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "mistral",
        "model": "voxtral-mini-2602",
    }


def test_mistral_without_a_key_reports_itself_off() -> None:
    transcriber = create_transcriber(settings(transcription_provider="mistral"))
    assert status_of(transcriber).enabled is False
    assert status_of(transcriber).provider == "mistral"


def test_openai_compatible_from_settings() -> None:
    transcriber = create_transcriber(
        settings(
            transcription_provider="openai",
            transcription_base_url="http://localhost:9000",
            transcription_model="large-v3",
        )
    )
    assert isinstance(transcriber, RemoteTranscriber)
    assert transcriber.url == "http://localhost:9000/v1/audio/transcriptions"
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "openai",
        "model": "large-v3",
    }


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UTTER_TRANSCRIPTION_PROVIDER", "mistral")
    monkeypatch.setenv("UTTER_TRANSCRIPTION_API_KEY", "from-env")
    monkeypatch.setenv("UTTER_REFERENCE_MIN_SECONDS", "5")
    loaded = Settings()
    assert loaded.transcription_provider == "mistral"
    assert loaded.transcription_api_key is not None
    assert loaded.transcription_api_key.get_secret_value() == "from-env"
    assert "from-env" not in repr(loaded)
    assert loaded.reference_min_seconds == 5
