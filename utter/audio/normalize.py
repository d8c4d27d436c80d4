"""The normalised reference: mono, 24 kHz, 16-bit PCM WAV, with the silence around it trimmed.

Levels are kept as recorded: loudness normalisation would also raise the noise,
and the reference report tells the user when a clip is too quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from utter.audio.convert import encode_wav
from utter.audio.errors import AudioError
from utter.audio.formats import REFERENCE_SAMPLE_RATE

Samples = npt.NDArray[np.float32]

# Trimming works on 10 ms frames. A frame is "sound" when it is within TRIM_RANGE_DB
# of the loudest frame and above TRIM_FLOOR_DBFS: relative, so a quiet recording is
# trimmed like a loud one; floored, so digital hiss never counts as sound.
TRIM_FRAME_SECONDS = 0.010
TRIM_RANGE_DB = 40.0
TRIM_FLOOR_DBFS = -60.0
# Keep a little room before the first and after the last sound: cutting right at the
# threshold clips soft onsets ("h", "f") and breath-tails that sound natural.
TRIM_PAD_SECONDS = 0.2
# A recording whose loudest 10 ms is below this holds no usable sound (a muted mic
# reads about -70 to -90 dBFS).
SILENT_DBFS = -60.0


@dataclass(frozen=True)
class NormalizedReference:
    samples: Samples  # float32, mono, trimmed, at sample_rate
    sample_rate: int
    wav: bytes  # the same samples as a 16-bit PCM WAV file

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def frame_levels_db(samples: Samples, frame: int) -> npt.NDArray[np.float64]:
    """RMS level of each whole frame of `frame` samples, in dBFS (-inf-safe)."""
    count = len(samples) // frame
    if count == 0:
        return np.zeros(0)
    frames = np.asarray(samples[: count * frame], dtype=np.float64).reshape(count, frame)
    power: npt.NDArray[np.float64] = np.mean(frames * frames, axis=1)
    levels: npt.NDArray[np.float64] = 10.0 * np.log10(np.maximum(power, 1e-12))
    return levels


def is_silent(samples: Samples, sample_rate: int) -> bool:
    frame = max(1, int(sample_rate * TRIM_FRAME_SECONDS))
    levels = frame_levels_db(samples, frame)
    return levels.size == 0 or float(levels.max()) < SILENT_DBFS


def trim_bounds(samples: Samples, sample_rate: int) -> tuple[int, int]:
    """Start and end sample indices of the sound, padded; (0, 0) when there is none."""
    frame = max(1, int(sample_rate * TRIM_FRAME_SECONDS))
    levels = frame_levels_db(samples, frame)
    if levels.size == 0:
        return (0, 0)
    threshold = max(float(levels.max()) - TRIM_RANGE_DB, TRIM_FLOOR_DBFS)
    loud = np.flatnonzero(levels >= threshold)
    if loud.size == 0:
        return (0, 0)
    pad = int(sample_rate * TRIM_PAD_SECONDS)
    start = max(0, int(loud[0]) * frame - pad)
    end = min(len(samples), (int(loud[-1]) + 1) * frame + pad)
    return (start, end)


def normalize_reference(samples: Samples, sample_rate: int) -> NormalizedReference:
    """Resample to 24 kHz if needed, trim the silence around the sound, encode PCM16 WAV.

    Raises AudioError("silent") when there is no sound at all.
    """
    audio = np.asarray(samples, dtype=np.float32)
    if sample_rate != REFERENCE_SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, REFERENCE_SAMPLE_RATE).astype(np.float32)
    if is_silent(audio, REFERENCE_SAMPLE_RATE):
        raise AudioError(
            "The recording is silent: check the microphone and record again.", "silent"
        )
    start, end = trim_bounds(audio, REFERENCE_SAMPLE_RATE)
    trimmed = np.clip(audio[start:end], -1.0, 1.0)
    return NormalizedReference(
        samples=trimmed,
        sample_rate=REFERENCE_SAMPLE_RATE,
        wav=encode_wav(trimmed, REFERENCE_SAMPLE_RATE),
    )
