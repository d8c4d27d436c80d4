"""From an uploaded file to a voice reference: check, decode, normalise, measure.

This is the one call the clone routes need; each step is also usable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utter.audio import ffmpeg
from utter.audio.decode import decode
from utter.audio.errors import AudioError
from utter.audio.formats import REFERENCE_SAMPLE_RATE, AudioFormat
from utter.audio.measure import ReferenceReport, measure
from utter.audio.normalize import NormalizedReference, normalize_reference
from utter.audio.validate import ReferenceLimits, check_duration, check_size, say_limit, say_seconds


@dataclass(frozen=True)
class PreparedReference:
    original_format: AudioFormat  # what the upload really is: its extension and content type
    reference: NormalizedReference  # mono 24 kHz PCM16 WAV, silence trimmed
    report: ReferenceReport

    @property
    def duration_seconds(self) -> float:
        """The normalised reference's length: the voice's `duration_seconds`."""
        return round(self.reference.duration, 2)


def prepare_reference(
    source: bytes | Path,
    limits: ReferenceLimits,
    *,
    timeout: float = ffmpeg.DEFAULT_TIMEOUT_SECONDS,
) -> PreparedReference:
    """Check an uploaded recording against `limits` and turn it into a reference.

    Raises AudioError (with `reason`) for: an empty or oversized file, anything that is
    not intact audio in an accepted format, a recording shorter or longer than the
    limits (before and after trimming silence), or pure silence. Blocking.
    """
    size = source.stat().st_size if isinstance(source, Path) else len(source)
    check_size(size, limits.max_bytes)
    decoded = decode(source, REFERENCE_SAMPLE_RATE, max_seconds=limits.max_seconds, timeout=timeout)
    check_duration(decoded.duration, limits.min_seconds, limits.max_seconds)
    reference = normalize_reference(decoded.samples, decoded.sample_rate)
    if reference.duration < limits.min_seconds:
        raise AudioError(
            f"Once the silence around it is trimmed the recording is "
            f"{say_seconds(reference.duration)} long; it must be at least "
            f"{say_limit(limits.min_seconds)}.",
            "too_short",
        )
    return PreparedReference(
        original_format=decoded.format,
        reference=reference,
        report=measure(reference.samples, reference.sample_rate),
    )
