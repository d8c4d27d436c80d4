"""The transcription protocol: audio bytes in, text out, from whichever provider is configured.

`transcribe` is async: remote providers are HTTP calls, and the offline recogniser
runs in a worker thread. Failures raise one of the domain errors below (or
`utter.audio.AudioError` when the offline recogniser cannot read the upload), each
with a message meant for the user; docs/audio.md says what the API answers for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from utter.errors import Unavailable, Unprocessable, UpstreamFailed
from utter.languages import AUTO, CODES


@dataclass(frozen=True)
class Transcript:
    text: str
    model: str
    language: str | None  # ISO 639-1 code when the provider says (or knows) it
    # Seconds of audio heard, when the provider knows; the daily transcription limit
    # counts these (else the upload is decoded to measure it).
    duration_seconds: float | None = None


class TranscriptionError(UpstreamFailed):
    """The provider failed or answered nonsense. `failure` is what went wrong, in the
    provider's words; the message puts it in the sentence the user reads."""

    def __init__(self, failure: str) -> None:
        super().__init__(f"Transcription request failed: {failure}")
        self.failure = failure


class UnsupportedLanguageError(Unprocessable):
    """The provider cannot transcribe this language."""


class TranscriptionDisabled(Unavailable):
    """Transcription is off on this server (until an operator turns it on: no retry)."""

    def __init__(self) -> None:
        super().__init__("Transcription is not configured on this server.")


class TranscriptionStatus(BaseModel):
    """The `transcription` object of GET /api/languages."""

    enabled: bool
    provider: str
    model: str


@runtime_checkable
class Transcriber(Protocol):
    @property
    def enabled(self) -> bool: ...

    @property
    def provider(self) -> str:
        """`offline`, `whisper`, `mistral`, `openai` or `none`."""
        ...

    @property
    def model(self) -> str: ...

    @property
    def supported_languages(self) -> tuple[str, ...]:
        """API language names it accepts ("Auto" included when it can detect)."""
        ...

    async def transcribe(self, data: bytes, filename: str, language: str) -> Transcript:
        """Transcribe an uploaded file. `language` is an API name ("English", "Auto")."""
        ...

    async def aclose(self) -> None:
        """Release connections and models."""
        ...


def status_of(transcriber: Transcriber) -> TranscriptionStatus:
    return TranscriptionStatus(
        enabled=transcriber.enabled, provider=transcriber.provider, model=transcriber.model
    )


def language_code(language: str | None) -> str | None:
    """ISO code for an API language name (or a code given directly); None for Auto/unknown."""
    if not language or language == AUTO:
        return None
    if language in CODES:
        return CODES[language]
    lowered = language.strip().lower()
    for name, code in CODES.items():
        if lowered in (name.lower(), code):
            return code
    return None


class DisabledTranscriber:
    """Transcription switched off (`UTTER_TRANSCRIPTION_PROVIDER=none`)."""

    enabled = False
    provider = "none"
    model = ""
    supported_languages: tuple[str, ...] = ()

    async def transcribe(self, data: bytes, filename: str, language: str) -> Transcript:
        raise TranscriptionDisabled()

    async def aclose(self) -> None:
        return None
