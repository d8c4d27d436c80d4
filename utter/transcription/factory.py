"""Choosing the transcriber the settings ask for."""

from __future__ import annotations

from utter.cpu import CpuPool
from utter.settings import Settings
from utter.transcription.base import DisabledTranscriber, Transcriber
from utter.transcription.offline import OfflineTranscriber
from utter.transcription.remote import RemoteTranscriber
from utter.transcription.whisper import WhisperTranscriber


def create_transcriber(settings: Settings, cpu: CpuPool | None = None) -> Transcriber:
    """The transcriber for `UTTER_TRANSCRIPTION_*`. Cheap: models and connections load lazily.
    The offline recognisers run in `cpu`'s processes when one is given. Raises
    WhisperModelError for `whisper` without a model, so a server never starts with it."""
    provider = settings.transcription_provider
    if provider == "none":
        return DisabledTranscriber()
    if provider == "offline":
        # Offline transcription takes as much audio as a reference may hold.
        return OfflineTranscriber(max_seconds=settings.reference_max_seconds, cpu=cpu)
    if provider == "whisper":
        return WhisperTranscriber(
            settings.whisper_model_dir,
            data_dir=settings.data_dir,
            device=settings.whisper_device,
            compute_type=settings.whisper_compute_type,
            max_seconds=settings.reference_max_seconds,
            cpu=cpu,
        )
    key = settings.transcription_api_key
    return RemoteTranscriber(
        provider,
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.transcription_base_url,
        model=settings.transcription_model,
        timeout=settings.transcription_timeout_seconds,
    )
