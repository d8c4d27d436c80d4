"""A waveform overview for drawing: the loudest sample in each of N equal slices."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_PEAKS = 400


def peaks(samples: npt.NDArray[np.float32], count: int = DEFAULT_PEAKS) -> list[float]:
    """`count` values in 0..1 (fewer for very short audio; [] for none), scaled so the
    loudest slice is 1.0. Rounded to 3 decimals to keep the JSON small."""
    if count < 1:
        raise ValueError("count must be at least 1")
    magnitude = np.abs(np.asarray(samples, dtype=np.float32))
    if magnitude.size == 0:
        return []
    slices = np.array_split(magnitude, min(count, magnitude.size))
    values = np.array([float(part.max()) for part in slices], dtype=np.float64)
    top = float(values.max())
    if top > 0:
        values /= top
    return [round(float(v), 3) for v in values]
