"""Limits on uploaded recordings, and the plain sentences that explain a refusal.

The limits are passed in (from settings and the storage bucket), never read here.
"""

from __future__ import annotations

from dataclasses import dataclass

from utter.audio.errors import AudioError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ReferenceLimits:
    """What a reference recording must satisfy to be used for cloning."""

    min_seconds: float = 3.0
    max_seconds: float = 300.0
    max_bytes: int = 50 * MIB


def say_seconds(seconds: float) -> str:
    """A duration as people say it: "2.4 s", "6 min 5 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {_trim(rest)} s"


def say_limit(seconds: float) -> str:
    """A limit as people say it: "3 s", "5 minutes", "90 s"."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{_trim(seconds)} s"


def say_bytes(size: int) -> str:
    """A byte limit as people say it: "50 MB" (binary megabytes, as the 50 MiB bucket)."""
    return f"{_trim(size / MIB)} MB"


def _trim(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def check_size(size: int, max_bytes: int) -> None:
    """Refuse an empty file or one over `max_bytes`."""
    if size <= 0:
        raise AudioError("The file is empty.", "empty")
    if size > max_bytes:
        raise AudioError(f"The file is over {say_bytes(max_bytes)}.", "too_large")


def too_short(seconds: float, min_seconds: float) -> AudioError:
    return AudioError(
        f"The recording is {say_seconds(seconds)} long; it must be at least "
        f"{say_limit(min_seconds)}.",
        "too_short",
    )


def too_long(seconds: float | None, max_seconds: float) -> AudioError:
    """`seconds` is None when the file's full length is unknown (decoding stopped at the limit)."""
    limit = say_limit(max_seconds)
    length = f"is {say_seconds(seconds)} long" if seconds is not None else f"is over {limit}"
    return AudioError(f"The recording {length}; it must be at most {limit}.", "too_long")


def check_duration(seconds: float, min_seconds: float, max_seconds: float) -> None:
    if seconds < min_seconds:
        raise too_short(seconds, min_seconds)
    if seconds > max_seconds:
        raise too_long(seconds, max_seconds)
