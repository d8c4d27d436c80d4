"""A waveform overview for drawing: the loudest sample in each of N equal slices.

Stored as one byte per slice (`pack`): 0..255 of the loudest slice, which is finer than a
waveform's pixels need and 8× smaller than real values. Lists send it back as numbers in
0..1 with 3 decimals (`unpack`), the form clients have always read.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_PEAKS = 400
# What a finished generation stores: enough for any row's waveform, a fraction of a page.
STORED_PEAKS = 200
LEVELS = 255

# Each byte's value as the API sends it, computed once instead of per value of every row.
_AS_FRACTION = tuple(round(level / LEVELS, 3) for level in range(LEVELS + 1))


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


def pack(values: list[float]) -> bytes:
    """Values in 0..1 (out-of-range ones clipped) as one byte each, 0..255."""
    levels = np.rint(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0) * LEVELS)
    return levels.astype(np.uint8).tobytes()


def unpack(data: bytes) -> list[float]:
    """Stored bytes back to values in 0..1 with at most 3 decimals."""
    return list(map(_AS_FRACTION.__getitem__, data))
