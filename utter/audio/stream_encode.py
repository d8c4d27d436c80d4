"""Encoding audio as it arrives, for a response that streams: one ffmpeg process per stream.

PCM16 mono goes in on ffmpeg's stdin as it becomes available, and the encoded stream comes
out of its stdout a frame or page at a time, so the first bytes leave long before the last
samples exist. The encoding runs in that subprocess; the event loop only moves bytes
through pipes (asyncio's subprocess streams), so it never holds the loop.

Output is 24 kHz mono (Opus: 48 kHz, its own rate), whatever rate the input has:

| format | media type | what it is |
|---|---|---|
| `mp3` | audio/mpeg | MP3 frames (LAME VBR ~q4), no Xing header (its length is unknown) |
| `opus` | audio/ogg | Opus at 48 kbit/s in Ogg, pages flushed as they fill |
| `aac` | audio/aac | AAC-LC in ADTS frames (each one self-describing, as for a live stream) |
| `flac` | audio/flac | FLAC frames after a STREAMINFO whose length is left unknown |
| `wav` | audio/wav | a WAV header whose sizes say "unknown" (0xFFFFFFFF), then PCM16 |
| `pcm` | audio/pcm | raw signed 16-bit little-endian samples, no header |
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass

from utter.audio import ffmpeg

OUTPUT_RATE = 24_000


@dataclass(frozen=True)
class StreamFormat:
    name: str
    media_type: str
    # ffmpeg's encoder and muxer arguments (after the input).
    args: tuple[str, ...]


STREAM_FORMATS: dict[str, StreamFormat] = {
    "mp3": StreamFormat(
        "mp3", "audio/mpeg", ("-c:a", "libmp3lame", "-q:a", "4", "-write_xing", "0", "-f", "mp3")
    ),
    "opus": StreamFormat(
        "opus",
        "audio/ogg",
        # Short pages: a page is what a player can start on, so do not gather a second of them.
        ("-c:a", "libopus", "-b:a", "48k", "-ar", "48000", "-page_duration", "100000", "-f", "ogg"),
    ),
    "aac": StreamFormat("aac", "audio/aac", ("-c:a", "aac", "-b:a", "64k", "-f", "adts")),
    "flac": StreamFormat("flac", "audio/flac", ("-c:a", "flac", "-f", "flac")),
    "wav": StreamFormat("wav", "audio/wav", ("-c:a", "pcm_s16le", "-f", "s16le")),
    "pcm": StreamFormat("pcm", "audio/pcm", ("-c:a", "pcm_s16le", "-f", "s16le")),
}
DEFAULT_FORMAT = "mp3"


def stream_format(name: str) -> StreamFormat | None:
    return STREAM_FORMATS.get(name)


def wav_stream_header(sample_rate: int = OUTPUT_RATE) -> bytes:
    """A 44-byte PCM16 mono WAV header for a stream of unknown length: both sizes are
    0xFFFFFFFF, which players and ffmpeg read as "until the data ends"."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


class StreamEncoder:
    """One ffmpeg process turning PCM16 mono at `input_rate` into `fmt`.

    Write with `write` (waits while ffmpeg is behind: back-pressure, not memory), end the
    input with `finish`, read the output with `read` until it returns b"". Always `close`
    (kills a process still running, e.g. when the listener went away)."""

    def __init__(self, process: asyncio.subprocess.Process, fmt: StreamFormat) -> None:
        self._process = process
        self.format = fmt

    @classmethod
    async def start(cls, fmt: StreamFormat, input_rate: int) -> StreamEncoder:
        process = await asyncio.create_subprocess_exec(
            ffmpeg.executable(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(input_rate),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-ac",
            "1",
            "-ar",
            str(OUTPUT_RATE),
            *fmt.args,
            # Each packet written as soon as it is muxed, not gathered in the output buffer.
            "-flush_packets",
            "1",
            "pipe:1",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(process, fmt)

    async def write(self, pcm: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(pcm)
        await stdin.drain()

    async def finish(self) -> None:
        """No more input: ffmpeg flushes its encoder and ends its output."""
        stdin = self._process.stdin
        assert stdin is not None
        if not stdin.is_closing():
            stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await stdin.wait_closed()

    async def read(self, size: int = 64 * 1024) -> bytes:
        """Up to `size` bytes as soon as any are ready; b"" at the end."""
        stdout = self._process.stdout
        assert stdout is not None
        return await stdout.read(size)

    async def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        await self._process.wait()
