"""Waveform peaks for drawing."""

from __future__ import annotations

import numpy as np
import pytest

from utter.audio import peaks


def test_peaks_are_400_values_in_0_to_1_with_the_loudest_at_1() -> None:
    samples = np.zeros(24_000 * 10, dtype=np.float32)
    samples[24_000 * 5 : 24_000 * 6] = 0.5  # one loud second in the middle
    samples[100] = -0.25

    values = peaks(samples)

    assert len(values) == 400
    assert all(0.0 <= v <= 1.0 for v in values)
    assert max(values) == 1.0
    loud = [i for i, v in enumerate(values) if v == 1.0]
    assert loud[0] == 200 and loud[-1] == 239  # the sixth of ten seconds
    assert values[0] == 0.5  # the negative sample counts by its size


def test_peaks_of_short_or_silent_audio() -> None:
    assert peaks(np.array([0.1, -0.2, 0.4], dtype=np.float32)) == [0.25, 0.5, 1.0]
    assert peaks(np.zeros(1000, dtype=np.float32), 10) == [0.0] * 10
    assert peaks(np.zeros(0, dtype=np.float32)) == []
    with pytest.raises(ValueError):
        peaks(np.zeros(10, dtype=np.float32), 0)
