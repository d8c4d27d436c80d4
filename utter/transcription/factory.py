"""Choosing the transcriber the settings ask for."""

from __future__ import annotations

from utter.cpu import CpuPool
from utter.settings import Settings
from utter.transcription.base import DisabledTranscriber, Transcriber
from utter.transcription.offline import OfflineTranscriber
from utter.transcription.remote import RemoteTranscriber


def create_transcriber(settings: Settings, cpu: CpuPool | None = None) -> Transcriber:
    """The transcriber for `UTTER_TRANSCRIPTION_*`. Cheap: models and connections load lazily.
    The offline recogniser runs in `cpu`'s processes when one is given."""
    provider = settings.transcription_provider
    if provider == "none":
        return DisabledTranscriber()
    if provider == "offline":
        # Offline transcription takes as much audio as a reference may hold.
        return OfflineTranscriber(max_seconds=settings.reference_max_seconds, cpu=cpu)
    key = settings.transcription_api_key
    return RemoteTranscriber(
        provider,
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.transcription_base_url,
        model=settings.transcription_model,
        timeout=settings.transcription_timeout_seconds,
    )
