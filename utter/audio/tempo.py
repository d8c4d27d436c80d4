"""Changing how fast speech is spoken without changing its pitch: ffmpeg's `atempo`.

`atempo` keeps pitch and timbre (a time-stretch by overlapping windows), which is what a
listener means by "speed"; resampling would make voices chipmunks. One instance is kept
within 0.5x..2x, where it sounds cleanest, so a wider factor is a chain of them whose
product is the speed (4.0 = 2.0 x 2.0, 0.3 = 0.5 x 0.6).

Sync and CPU-bound (a subprocess): workers call it from a thread.
"""

from __future__ import annotations

import math

import numpy as np

from utter.audio import ffmpeg
from utter.audio.convert import Samples

SPEED_MIN = 0.25
SPEED_MAX = 4.0
_STEP_MIN = 0.5
_STEP_MAX = 2.0


def check_speed(speed: float) -> float:
    """`speed` if it is a finite number in SPEED_MIN..SPEED_MAX; ValueError otherwise."""
    if not math.isfinite(speed) or not SPEED_MIN <= speed <= SPEED_MAX:
        raise ValueError(f"speed must be between {SPEED_MIN} and {SPEED_MAX}, not {speed}")
    return speed


def atempo_chain(speed: float) -> list[float]:
    """The `atempo` factors, each within 0.5..2.0, whose product is `speed`."""
    check_speed(speed)
    factors: list[float] = []
    rest = speed
    while rest > _STEP_MAX:
        factors.append(_STEP_MAX)
        rest /= _STEP_MAX
    while rest < _STEP_MIN:
        factors.append(_STEP_MIN)
        rest /= _STEP_MIN
    factors.append(rest)
    return factors


def change_tempo(samples: Samples, sample_rate: int, speed: float) -> Samples:
    """The same speech `speed` times as fast (duration / speed), pitch unchanged; the
    samples themselves at 1.0."""
    chain = atempo_chain(speed)
    if speed == 1.0 or len(samples) == 0:
        return samples
    filters = ",".join(f"atempo={factor:.6f}" for factor in chain)
    raw = np.ascontiguousarray(samples, dtype="<f4").tobytes()
    # Our own samples through pipes: raw float32 in and out, no container to trust.
    result = ffmpeg.run(
        [
            "-loglevel",
            "error",
            "-f",
            "f32le",
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-filter:a",
            filters,
            "-f",
            "f32le",
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "pipe:1",
        ],
        stdin=raw,
        timeout=ffmpeg.DEFAULT_TIMEOUT_SECONDS + len(samples) / sample_rate,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not change the tempo: {result.stderr.strip()[-300:]}")
    out: Samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    return out
