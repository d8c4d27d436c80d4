"""Recognising audio by its first bytes, whatever the file is called."""

from __future__ import annotations

import pytest

from tests.storage.conftest import PNG_HEADER
from utter.storage.sniff import SNIFF_BYTES, mime_allowed, sniff_audio

EXPECTED = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "flac": "audio/flac",
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_each_accepted_format_is_recognised_from_its_first_bytes(
    audio_samples: dict[str, bytes], fmt: str
) -> None:
    assert sniff_audio(audio_samples[fmt][:SNIFF_BYTES]) == EXPECTED[fmt]


def test_mp3_without_an_id3_tag_is_recognised_by_its_frame_sync(
    audio_samples: dict[str, bytes],
) -> None:
    mp3 = audio_samples["mp3"]
    if mp3.startswith(b"ID3"):  # skip the tag: 10-byte header + syncsafe size
        size = (mp3[6] << 21) | (mp3[7] << 14) | (mp3[8] << 7) | mp3[9]
        mp3 = mp3[10 + size :]
    assert mp3[:2] != b"ID"
    assert sniff_audio(mp3[:SNIFF_BYTES]) == "audio/mpeg"
    assert sniff_audio(b"\xff\xf1\x50\x80") == "audio/aac"  # ADTS: layer bits 00


@pytest.mark.parametrize(
    "head",
    [
        PNG_HEADER,
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # JPEG: 0xFF then not a frame sync
        b"GIF89a",
        b"%PDF-1.7",
        b"PK\x03\x04",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",  # RIFF, but an image
        b"hello, world",
        b"",
    ],
)
def test_other_files_are_not_audio(head: bytes) -> None:
    assert sniff_audio(head) is None


def test_bucket_type_lists_allow_exact_types_and_wildcards() -> None:
    assert mime_allowed("audio/wav", ["audio/wav", "audio/mpeg"])
    assert not mime_allowed("audio/ogg", ["audio/wav", "audio/mpeg"])
    assert mime_allowed("audio/ogg", ["audio/*"])
    assert not mime_allowed("image/png", ["audio/*"])
    assert mime_allowed("image/png", None) and mime_allowed("image/png", [])
