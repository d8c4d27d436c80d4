"""The `qwen` engine: Qwen3-TTS through the `qwen-tts` package, on this machine.

Weights come only from local checkpoint directories (`UTTER_QWEN_MODEL_DIR`, a Base
checkpoint for cloning; `UTTER_QWEN_DESIGN_MODEL_DIR`, a VoiceDesign one; unset, those
`utter models pull qwen` put in DATA_DIR/models), never from a model hub while running:
the engine refuses to start when a directory is missing or holds the wrong kind of
checkpoint. On CUDA it runs in bfloat16 with FlashAttention 2 when `flash_attn`
is installed (SDPA otherwise); on a CPU in float32 with SDPA.

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

if TYPE_CHECKING:
    from utter.settings import Settings

# Voices whose clone prompt (reference codes + speaker embedding) stays built. A prompt
# is a few hundred kilobytes at most; building one encodes the whole reference clip.
PROMPT_CACHE_SIZE = 64

_KIND_NAMES = {"base": "Base", "voice_design": "VoiceDesign"}


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


def _fingerprint(reference: Reference) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(reference.audio.samples, dtype=np.float32).tobytes())
    digest.update(f"{reference.audio.sample_rate}\0{reference.transcript}".encode())
    return digest.hexdigest()


class QwenEngine:
    """Clone with a Base checkpoint, design with a VoiceDesign one (optional)."""

    def __init__(
        self,
        model_dir: Path | None,
        design_model_dir: Path | None = None,
        *,
        device: str = "auto",
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        batch_size: int = 4,
        max_new_tokens: int = 2048,
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
        model = self._model(self._clone)
        prompt = self._voice_prompt(model, reference)

        def speak(group: Sequence[str]) -> list[Samples]:
            wavs, rate = model.generate_voice_clone(
                text=list(group),
                language=[language] * len(group),
                voice_clone_prompt=prompt,
                max_new_tokens=max_new_tokens_for(group, self._max_new_tokens),
            )
            return [_as_output(wav, rate) for wav in wavs]

        return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        if self._design is None:
            raise QwenModelError(
                "Voice design needs a VoiceDesign checkpoint: set UTTER_QWEN_DESIGN_MODEL_DIR."
            )
        self._require_language(language)
        chunks = chunk_text(text, self._max_chunk_chars)
        model = self._model(self._design)

        def speak(group: Sequence[str]) -> list[Samples]:
            wavs, rate = model.generate_voice_design(
                text=list(group),
                language=[language] * len(group),
                instruct=[instruct] * len(group),
                max_new_tokens=max_new_tokens_for(group, self._max_new_tokens),
            )
            return [_as_output(wav, rate) for wav in wavs]

        return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def close(self) -> None:
        with self._lock:
            had_models = bool(self._models)
            self._models.clear()
            self._prompts.clear()
        if had_models:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

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

    def _voice_prompt(self, model: Any, reference: Reference) -> Any:
        """The clone prompt for a voice, built once and kept (least recently used go first).
        The fingerprint notices a voice whose reference changed under the same id."""
        fingerprint = _fingerprint(reference)
        with self._lock:
            cached = self._prompts.get(reference.voice_id)
            if cached is not None and cached[0] == fingerprint:
                self._prompts.move_to_end(reference.voice_id)
                return cached[1]
        transcript = reference.transcript.strip()
        # ICL mode (reference codes + transcript) clones best; without a transcript only
        # the speaker embedding can be used.
        prompt = model.create_voice_clone_prompt(
            ref_audio=(reference.audio.samples, reference.audio.sample_rate),
            ref_text=transcript or None,
            x_vector_only_mode=not transcript,
        )
        with self._lock:
            self._prompts[reference.voice_id] = (fingerprint, prompt)
            self._prompts.move_to_end(reference.voice_id)
            while len(self._prompts) > PROMPT_CACHE_SIZE:
                self._prompts.popitem(last=False)
        return prompt
