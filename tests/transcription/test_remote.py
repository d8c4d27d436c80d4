"""Remote transcription up to the HTTP boundary: the request we send and how answers read."""

from __future__ import annotations

import pytest

from tests.support.audio import encode, speech
from tests.transcription.conftest import FakeProvider
from utter.transcription import (
    RemoteTranscriber,
    TranscriptionDisabled,
    TranscriptionError,
)
from utter.transcription.remote import error_message, transcriptions_url


def mistral(fake: FakeProvider, **overrides: object) -> RemoteTranscriber:
    options: dict[str, object] = {"api_key": "test-key", "base_url": fake.url + "/"}
    options.update(overrides)
    return RemoteTranscriber("mistral", **options)  # type: ignore[arg-type]


async def test_the_request_carries_model_file_language_and_key(fake_provider: FakeProvider) -> None:
    audio = encode(speech("Good morning."), "mp3")
    transcriber = mistral(fake_provider)

    transcript = await transcriber.transcribe(audio, "memo.mp3", "French")

    [request] = fake_provider.received
    assert request.path == "/v1/audio/transcriptions"
    assert request.authorization == "Bearer test-key"
    assert request.fields == {"model": "voxtral-mini-2602", "language": "fr"}
    assert request.filename == "memo.mp3"
    assert request.content_type == "audio/mpeg"
    assert request.data == audio
    assert transcript.text == "hello world"  # trimmed
    assert transcript.model == "voxtral-mini-2602"  # the configured one, upstream sent none
    assert transcript.language == "en"
    await transcriber.aclose()


async def test_auto_sends_no_language_and_a_missing_name_becomes_audio_wav(
    fake_provider: FakeProvider,
) -> None:
    fake_provider.body = {"text": "hi", "model": "voxtral-mini-2602-upstream", "language": None}
    transcriber = mistral(fake_provider, model="voxtral-small")

    transcript = await transcriber.transcribe(b"RIFF....WAVEfmt ", "", "Auto")

    [request] = fake_provider.received
    assert request.fields == {"model": "voxtral-small"}
    assert request.filename == "audio.wav"
    assert request.content_type == "audio/wav"
    assert transcript.model == "voxtral-mini-2602-upstream"
    assert transcript.language is None
    await transcriber.aclose()


async def test_languages_mistral_does_not_know_are_left_to_it(fake_provider: FakeProvider) -> None:
    transcriber = mistral(fake_provider)
    await transcriber.transcribe(b"data", "a.wav", "Arabic")
    assert "language" not in fake_provider.received[0].fields
    assert "Arabic" not in transcriber.supported_languages
    assert transcriber.supported_languages[:3] == ("Auto", "English", "Chinese")
    await transcriber.aclose()


async def test_an_openai_compatible_server_given_with_v1_and_no_key(
    fake_provider: FakeProvider,
) -> None:
    transcriber = RemoteTranscriber("openai", base_url=fake_provider.url + "/v1")
    assert transcriber.enabled
    assert transcriber.model == "whisper-1"

    transcript = await transcriber.transcribe(b"data", "a.webm", "Arabic")

    [request] = fake_provider.received
    assert request.path == "/v1/audio/transcriptions"
    assert request.authorization is None
    assert request.fields == {"model": "whisper-1", "language": "ar"}
    assert transcript.text == "hello world"
    await transcriber.aclose()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": "Unauthorized key"}, "Unauthorized key"),
        (400, {"error": {"message": "Audio too long", "code": 3}}, "Audio too long"),
        (422, {"detail": "Unsupported file"}, "Unsupported file"),
        (
            422,
            {"detail": [{"loc": ["file"], "msg": "required"}]},
            '[{"loc": ["file"], "msg": "required"}]',
        ),
        (500, {"message": "Internal failure"}, "Internal failure"),
        (502, "Bad gateway from upstream", "Bad gateway from upstream"),
        (503, {"unexpected": True}, '{"unexpected":true}'),
        (429, "x" * 1000, "x" * 300),
    ],
)
async def test_error_answers_become_one_plain_message(
    fake_provider: FakeProvider, status: int, body: object, message: str
) -> None:
    fake_provider.status, fake_provider.body = status, body
    transcriber = mistral(fake_provider)

    with pytest.raises(TranscriptionError) as caught:
        await transcriber.transcribe(b"data", "a.wav", "English")

    assert caught.value.failure == f"Mistral transcription failed ({status}): {message}"
    assert caught.value.message == f"Transcription request failed: {caught.value.failure}"
    await transcriber.aclose()


async def test_a_success_without_text_is_a_failure(fake_provider: FakeProvider) -> None:
    fake_provider.body = {"segments": []}
    transcriber = RemoteTranscriber("openai", api_key="k", base_url=fake_provider.url)
    with pytest.raises(TranscriptionError) as caught:
        await transcriber.transcribe(b"data", "a.wav", "English")
    assert (
        caught.value.failure
        == "OpenAI-compatible transcription failed (200): the answer had no text"
    )
    await transcriber.aclose()


async def test_a_slow_provider_times_out(fake_provider: FakeProvider) -> None:
    fake_provider.delay = 1.0
    transcriber = mistral(fake_provider, timeout=0.3)
    with pytest.raises(TranscriptionError) as caught:
        await transcriber.transcribe(b"data", "a.wav", "English")
    assert caught.value.failure == "Mistral transcription failed: no answer within 0.3 s"
    await transcriber.aclose()


async def test_an_unreachable_provider_fails_plainly() -> None:
    transcriber = RemoteTranscriber("mistral", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(TranscriptionError) as caught:
        await transcriber.transcribe(b"data", "a.wav", "English")
    assert caught.value.failure.startswith("Mistral transcription failed: could not reach")
    await transcriber.aclose()


async def test_mistral_without_a_key_is_off(fake_provider: FakeProvider) -> None:
    transcriber = RemoteTranscriber("mistral", base_url=fake_provider.url)
    assert not transcriber.enabled
    with pytest.raises(TranscriptionDisabled) as caught:
        await transcriber.transcribe(b"data", "a.wav", "English")
    assert caught.value.message == "Transcription is not configured on this server."
    assert fake_provider.received == []


def test_error_message_rules() -> None:
    assert error_message('{"error": "a", "detail": "b"}') == "a"
    assert error_message('{"error": {"message": "a"}, "detail": "b"}') == "a"
    assert error_message('{"error": {"code": 1}, "detail": "b"}') == "b"
    assert error_message('{"detail": "", "message": "c"}') == "c"
    assert error_message("not json") == "not json"
    assert error_message('["a list"]') == '["a list"]'


def test_the_endpoint_is_under_the_server_root() -> None:
    assert transcriptions_url("https://api.mistral.ai/") == (
        "https://api.mistral.ai/v1/audio/transcriptions"
    )
    assert transcriptions_url("http://whisper.local:8080/v1") == (
        "http://whisper.local:8080/v1/audio/transcriptions"
    )
