"""The one error every audio check raises, worded for the person who uploaded the file."""

from __future__ import annotations

from typing import Literal

from utter.errors import Invalid

# Why a file was refused, for callers that treat some refusals differently.
Reason = Literal[
    "empty",  # zero bytes
    "too_large",  # over the byte limit
    "not_audio",  # not a format we accept, or no audio track in it
    "corrupt",  # an accepted format, but damaged or cut short
    "too_short",  # under the minimum duration
    "too_long",  # over the maximum duration
    "silent",  # nothing but silence
    "timeout",  # ffmpeg did not finish in time
]


class AudioError(Invalid):
    """A file Utter will not use. `message` is a plain sentence a user can act on."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason = reason

    def __repr__(self) -> str:
        return f"AudioError({self.message!r}, reason={self.reason!r})"

    def __reduce__(self) -> tuple[type[AudioError], tuple[str, Reason]]:
        # Audio is checked in CPU processes; the error must cross back to the API intact.
        return (AudioError, (self.message, self.reason))


def corrupt() -> AudioError:
    return AudioError("The audio file is corrupt or truncated.", "corrupt")
