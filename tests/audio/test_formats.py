"""Recognising files by their first bytes (for streaming uploads) and messages for refusals."""

from __future__ import annotations

import pytest

from tests.support.audio import DECODED_AS, ENCODINGS, Clip, encode, png_bytes
from utter.audio.formats import SNIFF_BYTES, describe_non_audio, sniff
from utter.audio.validate import say_bytes, say_limit, say_seconds


@pytest.mark.parametrize("fmt", sorted(ENCODINGS))
def test_every_accepted_format_sniffs_from_its_first_bytes(clean: Clip, fmt: str) -> None:
    found = sniff(encode(clean, fmt)[:SNIFF_BYTES])
    assert found is not None and found.name == DECODED_AS[fmt]


@pytest.mark.parametrize(
    ("head", "looks_like"),
    [
        (png_bytes(), "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"hello, this is a transcript\n", "a text file"),
        (b"\x00\x01\x02\x03\x04", None),
    ],
)
def test_non_audio_is_recognised_and_named(head: bytes, looks_like: str | None) -> None:
    assert sniff(head) is None
    assert describe_non_audio(head) == looks_like


def test_durations_and_limits_read_naturally() -> None:
    assert say_seconds(2.04) == "2.0 s"
    assert say_seconds(360.0) == "6 min 0 s"
    assert say_seconds(305.25) == "5 min 5.2 s"
    assert say_limit(3) == "3 s"
    assert say_limit(300) == "5 minutes"
    assert say_limit(60) == "1 minute"
    assert say_limit(90) == "90 s"
    assert say_bytes(50 * 1024 * 1024) == "50 MB"
    assert say_bytes(10_485_760) == "10 MB"
