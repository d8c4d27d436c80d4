"""Streaming encodes (utter/audio/stream_encode.py): PCM16 in as it comes, each format out
as it is made, decodable by ffmpeg to the length that went in, at 24 kHz whatever the
input rate."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from utter.audio import ffmpeg
from utter.audio.convert import to_pcm16
from utter.audio.stream_encode import (
    STREAM_FORMATS,
    StreamEncoder,
    stream_format,
    wav_stream_header,
)


def _tone_pcm(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return to_pcm16((0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)).tobytes()


def _decoded_seconds(data: bytes) -> float:
    result = ffmpeg.run(
        ["-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "-"],
        stdin=data,
    )
    assert result.returncode == 0, result.stderr
    return len(result.stdout) / 2 / 24_000


async def _encode(name: str, rate: int, halves: int = 2) -> bytes:
    encoder = await StreamEncoder.start(STREAM_FORMATS[name], rate)
    out: list[bytes] = []

    async def drain() -> None:
        while data := await encoder.read():
            out.append(data)

    reading = asyncio.create_task(drain())
    try:
        for _ in range(halves):
            await encoder.write(_tone_pcm(1.0 / halves, rate))
        await encoder.finish()
        await asyncio.wait_for(reading, 30)
    finally:
        await encoder.close()
    return b"".join(out)


@pytest.mark.parametrize("name", ["mp3", "opus", "aac", "flac", "wav"])
async def test_each_format_decodes_to_the_length_that_went_in(name: str) -> None:
    data = await _encode(name, 22_050)
    if name == "wav":  # the encoder gives the samples; the route puts the header first
        data = wav_stream_header() + data
    assert _decoded_seconds(data) == pytest.approx(1.0, abs=0.08)


async def test_pcm_is_raw_16_bit_at_24_khz() -> None:
    data = await _encode("pcm", 16_000)
    assert len(data) / 2 / 24_000 == pytest.approx(1.0, abs=0.01)


async def test_output_comes_before_the_input_ends() -> None:
    encoder = await StreamEncoder.start(STREAM_FORMATS["mp3"], 24_000)
    try:
        await encoder.write(_tone_pcm(1.0, 24_000))
        first = await asyncio.wait_for(encoder.read(), 10)
        assert first  # frames of the first second, while the input is still open
    finally:
        await encoder.close()


def test_the_wav_header_says_its_length_is_unknown() -> None:
    header = wav_stream_header(24_000)
    assert len(header) == 44 and header[:4] == b"RIFF" and header[8:12] == b"WAVE"
    assert struct.unpack("<I", header[4:8]) == (0xFFFFFFFF,)
    assert struct.unpack("<I", header[40:44]) == (0xFFFFFFFF,)
    assert struct.unpack("<HHIIHH", header[20:36]) == (1, 1, 24_000, 48_000, 2, 16)


def test_only_the_six_formats_exist() -> None:
    assert list(STREAM_FORMATS) == ["mp3", "opus", "aac", "flac", "wav", "pcm"]
    assert stream_format("ogg") is None
    assert {f.media_type for f in STREAM_FORMATS.values()} == {
        "audio/mpeg",
        "audio/ogg",
        "audio/aac",
        "audio/flac",
        "audio/wav",
        "audio/pcm",
    }
