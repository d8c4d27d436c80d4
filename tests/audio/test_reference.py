"""From upload to reference: limits, normalisation to mono 24 kHz PCM16, silence trimmed."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from tests.support.audio import Clip, encode, of_duration, padded, silence, speech
from utter.audio import AudioError, ReferenceLimits, decode, prepare_reference
from utter.audio.normalize import TRIM_PAD_SECONDS
from utter.audio.validate import MIB

LIMITS = ReferenceLimits(min_seconds=3, max_seconds=300, max_bytes=50 * MIB)


def refusal(data: bytes, limits: ReferenceLimits = LIMITS) -> tuple[str, str]:
    with pytest.raises(AudioError) as caught:
        prepare_reference(data, limits)
    return caught.value.reason, caught.value.message


def test_the_reference_is_mono_24khz_pcm16_wav_with_silence_trimmed(clean: Clip) -> None:
    upload = encode(padded(clean, before=2.0, after=3.0), "webm")

    prepared = prepare_reference(upload, LIMITS)

    with wave.open(io.BytesIO(prepared.reference.wav)) as wav:
        assert wav.getnchannels() == 1
        assert wav.getframerate() == 24_000
        assert wav.getsampwidth() == 2
        frames = wav.getnframes()
    assert frames == len(prepared.reference.samples)
    # The 5 s of near-silence went; the speech (Piper leaves under 0.2 s of quiet at its
    # ends) stayed, with TRIM_PAD_SECONDS kept on each side.
    assert clean.duration - 0.3 < prepared.duration_seconds
    assert prepared.duration_seconds <= clean.duration + 2 * TRIM_PAD_SECONDS + 0.02
    pad = int(TRIM_PAD_SECONDS * 24_000)
    head, tail = prepared.reference.samples[: pad // 2], prepared.reference.samples[-pad // 2 :]
    assert float(np.abs(head).max()) < 0.01 and float(np.abs(tail).max()) < 0.01
    assert prepared.original_format.name == "webm"
    assert prepared.original_format.content_type == "audio/webm"
    assert prepared.report.duration_seconds == pytest.approx(prepared.duration_seconds, abs=0.01)


def test_the_trimmed_reference_still_holds_the_whole_sentence(clean: Clip) -> None:
    prepared = prepare_reference(encode(padded(clean, 1.0, 1.0), "wav"), LIMITS)
    original = decode(clean.wav(), 24_000).samples
    # The loudest moment of the speech is still there, at full level.
    assert float(np.abs(prepared.reference.samples).max()) == pytest.approx(
        float(np.abs(original).max()), abs=0.01
    )


def test_a_2_second_clip_is_too_short() -> None:
    two_seconds = of_duration(speech(), 2.0)
    assert refusal(encode(two_seconds, "mp3")) == (
        "too_short",
        "The recording is 2.0 s long; it must be at least 3 s.",
    )


def test_a_6_minute_clip_is_too_long(clean: Clip) -> None:
    six_minutes = of_duration(clean, 360.0)
    assert refusal(encode(six_minutes, "wav")) == (
        "too_long",
        "The recording is 6 min 0 s long; it must be at most 5 minutes.",
    )


def test_clips_at_the_limits_are_accepted(clean: Clip) -> None:
    limits = ReferenceLimits(min_seconds=3, max_seconds=15)
    assert prepare_reference(encode(of_duration(clean, 15.0), "flac"), limits)
    assert prepare_reference(encode(of_duration(clean, 3.5), "flac"), limits)


def test_a_clip_that_is_mostly_silence_around_a_word_is_too_short() -> None:
    word = padded(speech("Hello."), before=3.0, after=3.0)
    reason, message = refusal(encode(word, "wav"))
    assert reason == "too_short"
    assert message.startswith("Once the silence around it is trimmed the recording is ")
    assert message.endswith(" long; it must be at least 3 s.")


def test_silence_is_refused() -> None:
    assert refusal(encode(silence(5.0), "wav")) == (
        "silent",
        "The recording is silent: check the microphone and record again.",
    )


def test_one_byte_over_the_limit_is_refused_before_decoding() -> None:
    assert refusal(bytes(50 * MIB + 1)) == ("too_large", "The file is over 50 MB.")


def test_exactly_the_limit_passes_the_size_check(clean: Clip) -> None:
    upload = encode(clean, "wav")
    assert prepare_reference(upload, ReferenceLimits(max_bytes=len(upload)))
    assert refusal(upload, ReferenceLimits(max_bytes=len(upload) - 1))[0] == "too_large"


def test_an_empty_upload_is_refused() -> None:
    assert refusal(b"") == ("empty", "The file is empty.")
