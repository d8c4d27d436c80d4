"""Transcription: a small async protocol, offline recognisers, remote providers."""

from utter.transcription.base import (
    DisabledTranscriber,
    Transcriber,
    Transcript,
    TranscriptionDisabled,
    TranscriptionError,
    TranscriptionStatus,
    UnsupportedLanguageError,
    status_of,
)
from utter.transcription.factory import create_transcriber
from utter.transcription.offline import OfflineTranscriber, transcribe_english
from utter.transcription.remote import RemoteTranscriber
from utter.transcription.whisper import WhisperModelError, WhisperTranscriber

__all__ = [
    "DisabledTranscriber",
    "OfflineTranscriber",
    "RemoteTranscriber",
    "Transcriber",
    "Transcript",
    "TranscriptionDisabled",
    "TranscriptionError",
    "TranscriptionStatus",
    "UnsupportedLanguageError",
    "WhisperModelError",
    "WhisperTranscriber",
    "create_transcriber",
    "status_of",
    "transcribe_english",
]
