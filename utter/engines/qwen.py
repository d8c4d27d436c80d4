"""The `qwen` engine: Qwen3-TTS through the `qwen-tts` package, on this machine.

Weights come only from local checkpoint directories (`UTTER_QWEN_MODEL_DIR`, a Base
checkpoint for cloning; `UTTER_QWEN_DESIGN_MODEL_DIR`, a VoiceDesign one; unset, those
`utter models pull qwen` put in DATA_DIR/models), never from a model hub while running:
the engine refuses to start when a directory is missing or holds the wrong kind of
checkpoint. On CUDA it runs in bfloat16 with FlashAttention 2 when `flash_attn`
is installed (SDPA otherwise); on a CPU in float32 with SDPA.

Several jobs may call one engine at once (one thread each): their chunks are batched
together into the same model calls by `utter.engines.qwen_batch`, on one thread that
owns the model.

Models load on first use, so constructing the engine is cheap and `capabilities()` reads
only the checkpoint's config. torch and qwen-tts are imported then too: importing this
module costs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from utter.engines.base import (
    Audio,
    Capabilities,
    JobControl,
    Reference,
    Samples,
    UnsupportedLanguage,
)
from utter.engines.qwen_batch import (
    EXCLUSIVE,
    GATHER_SECONDS,
    Batcher,
    BatchJob,
    run_exclusive,
)
from utter.engines.qwen_common import (
    DEFAULT_MAX_CHUNK_CHARS,
    SAMPLE_RATE,
    api_languages,
    max_new_tokens_for,
    synthesize_in_groups,
)
from utter.engines.qwen_pull import pulled_checkpoint
from utter.engines.text import chunk_text
from utter.errors import Failed
from utter.metrics import observe_model_call

if TYPE_CHECKING:
    from utter.settings import Settings

# Voices whose clone prompt (reference codes + speaker embedding) stays built. A prompt
# is a few hundred kilobytes at most; building one encodes the whole reference clip.
PROMPT_CACHE_SIZE = 64

_KIND_NAMES = {"base": "Base", "voice_design": "VoiceDesign"}


CLONE = "clone"
DESIGN = "design"


@dataclass(frozen=True)
class CloneChunk:
    text: str
    language: str
    prompt: Any  # the voice's qwen_tts VoiceClonePromptItem


@dataclass(frozen=True)
class DesignChunk:
    text: str
    language: str
    instruct: str


class QwenModelError(Failed):
    """A configured checkpoint is missing or is not what the setting needs (for the
    operator: the worker logs it, and the user reads a generic failure)."""


@dataclass(frozen=True)
class Checkpoint:
    """A local Qwen3-TTS checkpoint directory, as read from its config."""

    path: Path
    kind: str  # the config's tts_model_type: "base" or "voice_design"
    model_languages: tuple[str, ...]  # lower-case names, as get_supported_languages() says

    @property
    def languages(self) -> tuple[str, ...]:
        return api_languages(self.model_languages)


def read_checkpoint(path: Path | None, setting: str, kind: str) -> Checkpoint:
    """Check that `path` holds a `kind` checkpoint, and read its languages (the rule of
    qwen-tts' get_supported_languages: "auto" plus every non-dialect codec language)."""
    name = _KIND_NAMES[kind]
    if path is None:
        raise QwenModelError(
            f"{setting} is not set: the qwen engine needs a local Qwen3-TTS {name} checkpoint "
            "directory; `utter models pull qwen` fetches one (see docs/engines.md)."
        )
    if not path.is_dir():
        raise QwenModelError(f"{setting}={path} does not exist or is not a directory.")
    config_file = path / "config.json"
    if not config_file.is_file() or not (path / "speech_tokenizer" / "config.json").is_file():
        raise QwenModelError(
            f"{setting}={path} is not a Qwen3-TTS checkpoint: it needs config.json and "
            "speech_tokenizer/config.json (see docs/engines.md)."
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QwenModelError(f"{setting}: cannot read {config_file}: {error}") from error
    found = config.get("tts_model_type")
    if found != kind:
        raise QwenModelError(
            f"{setting}={path} holds a {found!r} checkpoint; it must be a {name} checkpoint "
            f"(tts_model_type {kind!r})."
        )
    codec_languages = (config.get("talker_config") or {}).get("codec_language_id") or {}
    languages = ("auto", *(lang for lang in codec_languages if "dialect" not in lang))
    return Checkpoint(path=path, kind=kind, model_languages=tuple(languages))


def resolve_device(device: str) -> str:
    """`auto` is the first CUDA device when there is one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def attention_implementation(device: str) -> str:
    # FlashAttention 2 is CUDA-only and an optional, separately built package.
    if device.startswith("cuda") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_model(checkpoint: Checkpoint, device: str) -> Any:
    """A `qwen_tts.Qwen3TTSModel` from the local directory only (`local_files_only`)."""
    import torch
    from qwen_tts import Qwen3TTSModel

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return Qwen3TTSModel.from_pretrained(
            str(checkpoint.path),
            device_map=device,
            dtype=dtype,
            attn_implementation=attention_implementation(device),
            local_files_only=True,
        )
    except OSError as error:  # a file missing from the directory (weights, tokenizer, …)
        raise QwenModelError(
            f"Cannot load the Qwen3-TTS checkpoint in {checkpoint.path}: {error}"
        ) from error


def _as_output(samples: Any, rate: int) -> Samples:
    wav: Samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != SAMPLE_RATE:
        wav = soxr.resample(wav, rate, SAMPLE_RATE).astype(np.float32, copy=False)
    return wav


def _observe_call(kind: str, results: Sequence[Samples], seconds: float) -> None:
    audio_seconds = sum(len(samples) for samples in results) / SAMPLE_RATE
    observe_model_call(kind, len(results), seconds, audio_seconds)


def _fingerprint(reference: Reference) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(reference.audio.samples, dtype=np.float32).tobytes())
    digest.update(f"{reference.audio.sample_rate}\0{reference.transcript}".encode())
    return digest.hexdigest()


class QwenEngine:
    """Clone with a Base checkpoint, design with a VoiceDesign one (optional).

    Safe to call from several threads at once: every model call goes through one
    `Batcher`, which puts the chunks of all the jobs running at once into shared model
    calls (up to `batch_size` chunks each). A worker therefore runs its
    UTTER_WORKER_CONCURRENCY jobs with this one engine rather than one engine each."""

    # Read by the worker: run this many jobs at once in one process, sharing the model.
    shares_model_across_jobs = True

    def __init__(
        self,
        model_dir: Path | None,
        design_model_dir: Path | None = None,
        *,
        device: str = "auto",
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        batch_size: int = 4,
        max_new_tokens: int = 2048,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        if max_chunk_chars < 1 or batch_size < 1 or max_new_tokens < 1:
            raise ValueError("max_chunk_chars, batch_size and max_new_tokens must be positive")
        self._clone = read_checkpoint(model_dir, "UTTER_QWEN_MODEL_DIR", "base")
        self._design = (
            read_checkpoint(design_model_dir, "UTTER_QWEN_DESIGN_MODEL_DIR", "voice_design")
            if design_model_dir is not None
            else None
        )
        self._device_setting = device
        self._max_chunk_chars = max_chunk_chars
        self._batch_size = batch_size
        self._max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._prompts: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        # Every model call goes through it, so the jobs running at once share calls.
        self._gather_seconds = gather_seconds
        self._batcher = self._new_batcher()

    @classmethod
    def from_settings(cls, settings: Settings) -> QwenEngine:
        return cls(
            # Unset: what `utter models pull qwen` fetched into DATA_DIR, if anything.
            settings.qwen_model_dir or pulled_checkpoint(settings.data_dir, "base"),
            settings.qwen_design_model_dir or pulled_checkpoint(settings.data_dir, "voice_design"),
            device=settings.qwen_device,
            max_chunk_chars=settings.qwen_max_chunk_chars,
            batch_size=settings.qwen_batch_size,
            max_new_tokens=settings.qwen_max_new_tokens,
        )

    def capabilities(self) -> Capabilities:
        languages = self._clone.languages
        if self._design is not None:
            # One list serves both clone and design: offer only what both checkpoints take.
            languages = tuple(lang for lang in languages if lang in self._design.languages)
        return Capabilities(
            name="qwen",
            languages=languages,
            clone=True,
            design=self._design is not None,
            max_chunk_chars=self._max_chunk_chars,
            sample_rate=SAMPLE_RATE,
        )

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        self._require_language(language)
        chunks = chunk_text(text, self._max_chunk_chars)
        # In the batcher from the start: while this job waits for the model to load, a
        # batch of the others' chunks waits briefly for its first one.
        with self._batcher.job(control) as job:
            model = self._model(self._clone)
            prompt = self._voice_prompt(model, reference, job)

            def speak(group: Sequence[str]) -> list[Samples]:
                return job.run(CLONE, [CloneChunk(text, language, prompt) for text in group])

            return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        if self._design is None:
            raise QwenModelError(
                "Voice design needs a VoiceDesign checkpoint: set UTTER_QWEN_DESIGN_MODEL_DIR."
            )
        self._require_language(language)
        chunks = chunk_text(text, self._max_chunk_chars)
        with self._batcher.job(control) as job:
            self._model(self._design)

            def speak(group: Sequence[str]) -> list[Samples]:
                return job.run(DESIGN, [DesignChunk(text, language, instruct) for text in group])

            return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def _run_batch(self, kind: str, items: Sequence[Any]) -> list[Any]:
        """One model call for a batch of chunks, which may come from several jobs (each
        chunk with its own language and voice): on the batcher's thread only."""
        if kind == EXCLUSIVE:
            return run_exclusive(items)
        texts = [item.text for item in items]
        max_new_tokens = max_new_tokens_for(texts, self._max_new_tokens)
        if kind == CLONE:
            wavs, rate = self._models["base"].generate_voice_clone(
                text=texts,
                language=[item.language for item in items],
                # One prompt item per text: each chunk speaks in its own job's voice.
                voice_clone_prompt=[item.prompt for item in items],
                max_new_tokens=max_new_tokens,
            )
        elif kind == DESIGN:
            wavs, rate = self._models["voice_design"].generate_voice_design(
                text=texts,
                language=[item.language for item in items],
                instruct=[item.instruct for item in items],
                max_new_tokens=max_new_tokens,
            )
        else:
            raise ValueError(f"Unknown batch kind {kind!r}.")
        return [_as_output(wav, rate) for wav in wavs]

    def close(self) -> None:
        # Its thread ends after its current batch; a later call starts a fresh one.
        batcher, self._batcher = self._batcher, self._new_batcher()
        batcher.close()
        with self._lock:
            had_models = bool(self._models)
            self._models.clear()
            self._prompts.clear()
        if had_models:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _new_batcher(self) -> Batcher:
        return Batcher(
            self._run_batch,
            self._batch_size,
            gather_seconds=self._gather_seconds,
            on_call=_observe_call,
        )

    def _require_language(self, language: str) -> None:
        if language not in self.capabilities().languages:
            raise UnsupportedLanguage(language, "qwen")

    def _model(self, checkpoint: Checkpoint) -> Any:
        with self._lock:
            model = self._models.get(checkpoint.kind)
            if model is None:
                model = load_model(checkpoint, resolve_device(self._device_setting))
                self._models[checkpoint.kind] = model
            return model

    def _voice_prompt(self, model: Any, reference: Reference, job: BatchJob) -> Any:
        """The clone prompt item for a voice, built once (on the model's thread, between
        batches) and kept (least recently used go first). The fingerprint notices a voice
        whose reference changed under the same id."""
        fingerprint = _fingerprint(reference)
        with self._lock:
            cached = self._prompts.get(reference.voice_id)
            if cached is not None and cached[0] == fingerprint:
                self._prompts.move_to_end(reference.voice_id)
                return cached[1]
        transcript = reference.transcript.strip()
        # ICL mode (reference codes + transcript) clones best; without a transcript only
        # the speaker embedding can be used.
        [prompt] = job.call(
            lambda: model.create_voice_clone_prompt(
                ref_audio=(reference.audio.samples, reference.audio.sample_rate),
                ref_text=transcript or None,
                x_vector_only_mode=not transcript,
            )
        )
        with self._lock:
            self._prompts[reference.voice_id] = (fingerprint, prompt)
            self._prompts.move_to_end(reference.voice_id)
            while len(self._prompts) > PROMPT_CACHE_SIZE:
                self._prompts.popitem(last=False)
        return prompt
