"""Speed (utter/audio/tempo.py): ffmpeg's atempo makes speech shorter or longer by the
factor asked for, keeps its pitch, and chains instances beyond 0.5x..2x."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utter.audio.tempo import atempo_chain, change_tempo

RATE = 24_000


def _tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


@pytest.mark.parametrize("speed", [0.25, 0.4, 0.5, 0.8, 1.5, 2.0, 3.0, 4.0])
def test_the_duration_changes_by_the_speed_and_the_pitch_does_not(speed: float) -> None:
    source = _tone(2.0)
    faster = change_tempo(source, RATE, speed)
    assert faster.dtype == np.float32
    assert len(faster) / len(source) == pytest.approx(1 / speed, rel=0.03)
    assert _dominant_hz(faster) == pytest.approx(220.0, abs=3.0)


def test_normal_speed_is_the_samples_themselves() -> None:
    source = _tone(0.5)
    assert change_tempo(source, RATE, 1.0) is source
    empty = np.zeros(0, dtype=np.float32)
    assert len(change_tempo(empty, RATE, 2.0)) == 0


def test_factors_outside_half_to_double_are_chained() -> None:
    for speed in (0.25, 0.3, 0.5, 1.0, 2.0, 2.5, 4.0):
        chain = atempo_chain(speed)
        assert all(0.5 <= f <= 2.0 for f in chain)
        assert math.prod(chain) == pytest.approx(speed)
    assert atempo_chain(4.0) == [2.0, 2.0]
    assert atempo_chain(0.25) == [0.5, 0.5]
    assert len(atempo_chain(1.5)) == 1


@pytest.mark.parametrize("speed", [0.2, 4.5, 0.0, -1.0, math.nan, math.inf])
def test_speeds_outside_the_range_are_refused(speed: float) -> None:
    with pytest.raises(ValueError, match=r"between 0\.25 and 4\.0"):
        atempo_chain(speed)
