"""Decoding uploads by content: every accepted format, and every way a file is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.audio import (
    DECODED_AS,
    ENCODINGS,
    Clip,
    encode,
    of_duration,
    png_bytes,
    truncated,
    video_with_sound,
    video_without_audio,
)
from utter.audio import AudioError, decode

NOT_AUDIO = "This file is not audio we can read"
CORRUPT = "The audio file is corrupt or truncated."


@pytest.mark.parametrize("fmt", sorted(ENCODINGS))
def test_each_accepted_format_decodes_to_mono_float32_at_the_requested_rate(
    clean: Clip, fmt: str
) -> None:
    decoded = decode(encode(clean, fmt), 24_000)

    assert decoded.format.name == DECODED_AS[fmt]
    assert decoded.sample_rate == 24_000
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    # Lossy codecs add encoder delay and padding (AAC in ADTS most: ~60 ms).
    assert decoded.duration == pytest.approx(clean.duration, abs=0.1)
    assert float(np.abs(decoded.samples).max()) == pytest.approx(0.8, abs=0.1)


def test_decoding_at_16_khz_for_the_recogniser(clean: Clip) -> None:
    decoded = decode(encode(clean, "ogg"), 16_000)
    assert decoded.sample_rate == 16_000
    assert len(decoded.samples) == pytest.approx(clean.duration * 16_000, abs=0.05 * 16_000)


@pytest.mark.parametrize(
    ("fmt", "misleading_name"),
    [("mp3", "voice.wav"), ("wav", "voice.mp3"), ("webm", "voice.m4a"), ("flac", "voice.ogg")],
)
def test_the_file_name_is_ignored(
    clean: Clip, tmp_path: Path, fmt: str, misleading_name: str
) -> None:
    path = tmp_path / misleading_name
    path.write_bytes(encode(clean, fmt))
    assert decode(path).format.name == DECODED_AS[fmt]


def test_a_stereo_44k_24_bit_wav_decodes_to_mono(clean: Clip) -> None:
    stereo = encode(clean, "wav", "-ac", "2", "-ar", "44100", "-c:a", "pcm_s24le")
    decoded = decode(stereo, 24_000)
    assert decoded.codec == "pcm_s24le"
    assert decoded.samples.ndim == 1
    assert decoded.duration == pytest.approx(clean.duration, abs=0.01)


def test_a_wav_streamed_with_unknown_length_is_accepted(clean: Clip) -> None:
    # Writers that cannot seek back (ffmpeg to a pipe, some recorders) leave the size unset.
    data = bytearray(clean.wav())
    assert data[36:40] == b"data"
    data[40:44] = b"\xff\xff\xff\xff"
    assert decode(bytes(data)).duration == pytest.approx(clean.duration, abs=0.01)


@pytest.mark.parametrize("picture_outlasts_sound", [0.0, 3.0])
def test_a_video_with_sound_gives_its_sound(clean: Clip, picture_outlasts_sound: float) -> None:
    # Phones save some recordings as videos; the sound track is what we take, and a
    # picture that runs on after the sound is not a truncated sound track.
    decoded = decode(video_with_sound(clean, picture_outlasts_sound))
    assert decoded.format.name == "m4a"
    assert decoded.duration == pytest.approx(clean.duration, abs=0.1)


# Refusals ---------------------------------------------------------------------------


def reason_and_message(data: bytes) -> tuple[str, str]:
    with pytest.raises(AudioError) as caught:
        decode(data)
    return caught.value.reason, caught.value.message


def test_a_png_renamed_wav_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "voice.wav"
    path.write_bytes(png_bytes())
    with pytest.raises(AudioError) as caught:
        decode(path)
    assert caught.value.reason == "not_audio"
    assert caught.value.message == (
        f"{NOT_AUDIO} (a PNG image). Use WAV, MP3, M4A, AAC, OGG, WebM or FLAC."
    )


def test_text_is_not_audio() -> None:
    assert reason_and_message(b"name,transcript\nme,hello there\n") == (
        "not_audio",
        f"{NOT_AUDIO} (a text file). Use WAV, MP3, M4A, AAC, OGG, WebM or FLAC.",
    )


def test_random_bytes_are_not_audio() -> None:
    noise = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    reason, message = reason_and_message(noise)
    assert reason == "not_audio"
    assert message.startswith(NOT_AUDIO)


def test_a_video_without_sound_is_not_audio() -> None:
    assert reason_and_message(video_without_audio()) == (
        "not_audio",
        f"{NOT_AUDIO} (it has no sound track). Use WAV, MP3, M4A, AAC, OGG, WebM or FLAC.",
    )


def test_an_empty_file_is_refused() -> None:
    assert reason_and_message(b"") == ("empty", "The file is empty.")


def test_formats_outside_the_accepted_list_are_refused(clean: Clip) -> None:
    # ffmpeg reads AIFF (and hundreds of other formats, playlists among them); only the
    # demuxers of the accepted formats are allowed.
    aiff = encode(clean, "wav", "-c:a", "pcm_s16be", "-f", "aiff")
    reason, message = reason_and_message(aiff)
    assert reason == "not_audio"
    assert message.startswith(NOT_AUDIO)


@pytest.mark.parametrize(
    "fmt",
    [
        "mp3",  # LAME's Xing header states the length: decoded audio falls short
        "mp3-no-xing",  # no stated length: the last frame is cut
        "m4a",  # the index (moov) is at the end: it is gone
        "m4a-faststart",  # index first: the samples it lists are missing
        "m4a-fragmented",  # a fragment is cut
        "aac",  # the last ADTS frame is cut
        "ogg",  # the last Ogg page is cut
        "ogg-vorbis",
        "webm",  # "file ended prematurely"
        "flac",  # a frame is cut; STREAMINFO states the length
    ],
)
def test_a_file_cut_in_half_is_corrupt(clean: Clip, fmt: str) -> None:
    assert reason_and_message(truncated(encode(clean, fmt))) == ("corrupt", CORRUPT)


def test_a_wav_whose_header_promises_more_data_is_corrupt(clean: Clip) -> None:
    assert reason_and_message(truncated(encode(clean, "wav"), 0.6)) == ("corrupt", CORRUPT)


def test_a_header_alone_is_corrupt(clean: Clip) -> None:
    assert reason_and_message(encode(clean, "mp3")[:600]) == ("corrupt", CORRUPT)


def test_max_seconds_bounds_the_work_and_names_the_length(clean: Clip) -> None:
    long = encode(of_duration(clean, 75), "mp3")
    with pytest.raises(AudioError) as caught:
        decode(long, max_seconds=60)
    assert caught.value.reason == "too_long"
    assert caught.value.message == "The recording is 1 min 15 s long; it must be at most 1 minute."
