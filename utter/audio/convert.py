"""Encoding samples to the formats Utter serves: WAV (PCM16), MP3 and Opus in Ogg."""

from __future__ import annotations

import io
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from utter.audio import ffmpeg

Samples = npt.NDArray[np.float32]
Compressed = Literal["mp3", "opus"]
OutputName = Literal["wav", "mp3", "opus"]


@dataclass(frozen=True)
class OutputFormat:
    name: OutputName
    extension: str
    content_type: str


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "wav", "audio/wav"),
    "mp3": OutputFormat("mp3", "mp3", "audio/mpeg"),
    "opus": OutputFormat("opus", "opus", "audio/ogg"),
}

# Speech at 24 kHz mono: LAME's VBR quality 4 (~70-90 kbit/s) and Opus at 48 kbit/s are
# both indistinguishable from the WAV for voice while 4-6x smaller.
_ENCODER_ARGS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4", "-f", "mp3"],
    # Opus runs at 48 kHz internally; asking for it avoids ffmpeg picking a rate.
    "opus": ["-c:a", "libopus", "-b:a", "48k", "-ar", "48000", "-f", "ogg"],
}


def to_pcm16(samples: Samples) -> npt.NDArray[np.int16]:
    """Float samples to 16-bit integers, clipping anything outside [-1, 1]."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype(np.int16)


def encode_wav(samples: Samples, sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(to_pcm16(samples).astype("<i2").tobytes())
    return buffer.getvalue()


def transcode(
    data: bytes, fmt: Compressed, *, timeout: float = ffmpeg.DEFAULT_TIMEOUT_SECONDS
) -> bytes:
    """Re-encode audio bytes (usually a stored WAV) as MP3 or Opus-in-Ogg.

    Meant for audio Utter wrote itself; a file ffmpeg cannot read raises RuntimeError.
    """
    with tempfile.TemporaryDirectory(prefix="utter-audio-") as scratch:
        path = Path(scratch) / "input"
        path.write_bytes(data)
        # To a file, not a pipe: the MP3 muxer goes back to write the Xing/LAME header
        # (exact length for players' seek bars, encoder delay for gapless decoding).
        target = Path(scratch) / f"output.{fmt}"
        result = ffmpeg.run(
            [
                "-loglevel",
                "error",
                *ffmpeg.untrusted_input(path),
                "-map",
                "0:a:0",
                "-ac",
                "1",
                *_ENCODER_ARGS[fmt],
                f"file:{target}",
            ],
            timeout=timeout,
        )
        encoded = target.read_bytes() if target.exists() else b""
    if result.returncode != 0 or not encoded:
        raise RuntimeError(f"ffmpeg could not encode {fmt}: {result.stderr.strip()[:300]}")
    return encoded


def encode(samples: Samples, sample_rate: int, fmt: OutputName) -> bytes:
    """Samples to `fmt` bytes (WAV directly; MP3 and Opus through ffmpeg)."""
    wav = encode_wav(samples, sample_rate)
    return wav if fmt == "wav" else transcode(wav, fmt)
