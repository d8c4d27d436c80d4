"""Joining chunk audio without clicks, and bounding runaway output."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from utter.engines.base import Audio, JobControl, Samples
from utter.engines.text import max_duration_seconds

CROSSFADE_SECONDS = 0.02
# A short breath between chunks: chunks end at sentence ends, where speakers pause. The
# default; an engine whose pauses between sentences follow its pace passes its own.
PAUSE_SECONDS = 0.12


def crossfade_join(
    parts: Sequence[Samples],
    sample_rate: int,
    *,
    crossfade: float = CROSSFADE_SECONDS,
    pause: float = PAUSE_SECONDS,
) -> Samples:
    """Concatenate chunks with an equal-power crossfade through a short pause.

    Each chunk fades out over `crossfade` seconds into `pause` seconds of silence,
    and the next fades in, so a chunk that ends or starts mid-waveform cannot click.
    """
    if not parts:
        return np.zeros(0, dtype=np.float32)
    fade = max(1, round(crossfade * sample_rate))
    gap = np.zeros(round(pause * sample_rate), dtype=np.float32)
    out: list[Samples] = []
    for index, part in enumerate(parts):
        chunk = np.asarray(part, dtype=np.float32).copy()
        n = min(fade, len(chunk) // 2)
        if n > 0:
            ramp = np.sin(np.linspace(0.0, np.pi / 2, n, dtype=np.float32)) ** 2
            if index > 0:
                chunk[:n] *= ramp
            if index < len(parts) - 1:
                chunk[-n:] *= ramp[::-1]
        if index > 0:
            out.append(gap)
        out.append(chunk)
    return np.concatenate(out).astype(np.float32, copy=False)


def bound_duration(samples: Samples, sample_rate: int, text: str) -> Samples:
    """Cut audio longer than `text` could need (a model that never stopped), fading out."""
    limit = int(max_duration_seconds(text) * sample_rate)
    if len(samples) <= limit:
        return samples
    cut = samples[:limit].copy()
    fade = min(len(cut), int(0.05 * sample_rate))
    if fade:
        cut[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return cut


def synthesize_chunks(
    chunks: Sequence[str],
    speak: Callable[[str], Samples],
    sample_rate: int,
    control: JobControl,
    finish: Callable[[Samples], Samples] | None = None,
    pause: float = PAUSE_SECONDS,
) -> Audio:
    """Speak each chunk in turn, checking for cancellation before each, then join them.

    Each chunk's length is bounded and `finish` (an engine's levelling) applied to it on
    its own, so the piece handed to `control.part` right after is exactly what the final
    clip holds there; progress is reported after each chunk. Chunks are joined through
    `pause` seconds of silence."""
    total = len(chunks)
    control.progress(0, total)
    parts: list[Samples] = []
    for index, chunk in enumerate(chunks):
        control.check()
        samples = bound_duration(speak(chunk), sample_rate, chunk)
        if finish is not None:
            samples = finish(samples)
        parts.append(samples)
        control.part(index, total, Audio(samples, sample_rate))
        control.progress(index + 1, total)
    return Audio(crossfade_join(parts, sample_rate, pause=pause), sample_rate)
