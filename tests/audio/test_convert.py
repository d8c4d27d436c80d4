"""Encoding for downloads: PCM16 WAV, MP3 and Opus that decode back to the same audio."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from tests.support.audio import Clip
from utter.audio import OUTPUT_FORMATS, decode, encode, encode_wav, transcode


def test_wav_is_mono_pcm16_and_clips_out_of_range_samples() -> None:
    samples = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    data = encode_wav(samples, 24_000)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24_000)
        pcm = np.frombuffer(wav.readframes(5), dtype="<i2")
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767]


@pytest.mark.parametrize(
    ("fmt", "codec", "container"), [("mp3", "mp3", "mp3"), ("opus", "opus", "ogg")]
)
def test_compressed_downloads_decode_back_to_the_same_audio(
    clean: Clip, fmt: str, codec: str, container: str
) -> None:
    wav = encode_wav(decode(clean.wav(), 24_000).samples, 24_000)

    data = transcode(wav, fmt)  # type: ignore[arg-type]

    assert len(data) < len(wav) / 3
    back = decode(data, 24_000)
    assert back.codec == codec
    assert back.format.name == container
    assert back.duration == pytest.approx(clean.duration, abs=0.08)
    original = decode(wav, 24_000).samples
    # Same loudness envelope: compare 100 ms RMS frames.
    n = min(len(original), len(back.samples)) // 2400 * 2400
    a = np.sqrt(np.mean(original[:n].reshape(-1, 2400) ** 2, axis=1))
    b = np.sqrt(np.mean(back.samples[:n].reshape(-1, 2400) ** 2, axis=1))
    assert float(np.corrcoef(a, b)[0, 1]) > 0.95


def test_encode_goes_straight_from_samples(clean: Clip) -> None:
    samples = decode(clean.wav(), 24_000).samples
    assert decode(encode(samples, 24_000, "opus")).codec == "opus"
    assert encode(samples, 24_000, "wav") == encode_wav(samples, 24_000)


def test_output_formats_name_their_content_types() -> None:
    assert {name: f.content_type for name, f in OUTPUT_FORMATS.items()} == {
        "wav": "audio/wav",
        "mp3": "audio/mpeg",
        "opus": "audio/ogg",
    }
