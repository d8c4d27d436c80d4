"""Qwen3-TTS as the Modal app serves it: load a checkpoint once, then clone or design.

Plain Python with no Modal import: `app.py` wraps it in GPU classes (loading it in
`@modal.enter`, once per container), and tests run it locally on a tiny checkpoint.
The weights are read from a directory on the models volume only, never from a hub.

Callers (Utter's `modal` engine) send chunks that are already split and a token bound
already computed; this side validates them, keeps each reference's clone prompt while
the container lives, and returns one 24 kHz WAV per text.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

MAX_NEW_TOKENS = 4096  # per text; ~5.5 minutes of audio at 12.5 tokens a second
MAX_BATCH = 16
MAX_TEXT_CHARS = 2000
MAX_INSTRUCT_CHARS = 500
PROMPT_CACHE_SIZE = 32


class RequestError(ValueError):
    """The request cannot be served as sent (bad language, empty text, …)."""


def _wav_bytes(samples: Any, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(
        buffer, np.asarray(samples, dtype=np.float32).reshape(-1), rate, "PCM_16", format="WAV"
    )
    return buffer.getvalue()


def _checkpoint_kind(model_dir: Path) -> str | None:
    config = model_dir / "config.json"
    if not config.is_file():
        return None
    kind = json.loads(config.read_text(encoding="utf-8")).get("tts_model_type")
    return str(kind) if kind is not None else None


class QwenService:
    def __init__(self, model: Any, kind: str) -> None:
        self.model = model
        self.kind = kind
        self._prompts: OrderedDict[str, Any] = OrderedDict()

    @classmethod
    def load(cls, model_dir: str | Path, kind: str, device: str | None = None) -> QwenService:
        """Load the `kind` ("base" or "voice_design") checkpoint in `model_dir`: bfloat16
        on CUDA (FlashAttention 2 when installed, else SDPA), float32 on a CPU."""
        path = Path(model_dir)
        found = _checkpoint_kind(path)
        if found is None:
            raise RuntimeError(
                f"No Qwen3-TTS checkpoint at {path}: run `modal run modal_app/download_models.py`."
            )
        if found != kind:
            raise RuntimeError(f"{path} holds a {found!r} checkpoint, not {kind!r}.")
        import torch
        from qwen_tts import Qwen3TTSModel

        if device is None:
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
        on_cuda = device.startswith("cuda")
        flash = on_cuda and importlib.util.find_spec("flash_attn") is not None
        model = Qwen3TTSModel.from_pretrained(
            str(path),
            device_map=device,
            dtype=torch.bfloat16 if on_cuda else torch.float32,
            attn_implementation="flash_attention_2" if flash else "sdpa",
            local_files_only=True,
        )
        return cls(model, kind)

    def languages(self) -> list[str]:
        """Lower-case language names the model accepts, "auto" included."""
        return [str(name) for name in self.model.get_supported_languages() or []]

    def clone(
        self,
        texts: list[str],
        language: str,
        ref_audio: bytes,
        ref_text: str,
        max_new_tokens: int,
    ) -> list[bytes]:
        self._require_kind("base")
        self._check(texts, language, max_new_tokens)
        prompt = self._prompt(ref_audio, ref_text)
        wavs, rate = self.model.generate_voice_clone(
            text=list(texts),
            language=[language] * len(texts),
            voice_clone_prompt=prompt,
            max_new_tokens=max_new_tokens,
        )
        return [_wav_bytes(wav, rate) for wav in wavs]

    def design(
        self, texts: list[str], language: str, instruct: str, max_new_tokens: int
    ) -> list[bytes]:
        self._require_kind("voice_design")
        self._check(texts, language, max_new_tokens)
        if not instruct.strip() or len(instruct) > MAX_INSTRUCT_CHARS:
            raise RequestError(f"instruct must be 1–{MAX_INSTRUCT_CHARS} characters.")
        wavs, rate = self.model.generate_voice_design(
            text=list(texts),
            language=[language] * len(texts),
            instruct=[instruct] * len(texts),
            max_new_tokens=max_new_tokens,
        )
        return [_wav_bytes(wav, rate) for wav in wavs]

    def _require_kind(self, kind: str) -> None:
        if self.kind != kind:
            raise RequestError(f"This container serves a {self.kind!r} checkpoint, not {kind!r}.")

    def _check(self, texts: list[str], language: str, max_new_tokens: int) -> None:
        if not texts or len(texts) > MAX_BATCH:
            raise RequestError(f"Send 1–{MAX_BATCH} texts per call.")
        if any(not text.strip() or len(text) > MAX_TEXT_CHARS for text in texts):
            raise RequestError(f"Each text must be 1–{MAX_TEXT_CHARS} characters.")
        if language.lower() not in self.languages():
            accepted = ", ".join(self.languages())
            raise RequestError(f"Unsupported language {language!r}; this model takes {accepted}.")
        if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
            raise RequestError(f"max_new_tokens must be 1–{MAX_NEW_TOKENS}.")

    def _prompt(self, ref_audio: bytes, ref_text: str) -> Any:
        """The clone prompt for a reference, kept while the container lives: calls for the
        chunks of one text (and later texts in the same voice) skip re-encoding it."""
        key = hashlib.sha256(ref_audio + b"\0" + ref_text.encode()).hexdigest()
        cached = self._prompts.get(key)
        if cached is not None:
            self._prompts.move_to_end(key)
            return cached
        try:
            samples, rate = sf.read(io.BytesIO(ref_audio), dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise RequestError(f"ref_audio is not readable audio: {error}") from error
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        if samples.size == 0:
            raise RequestError("ref_audio is empty.")
        transcript = ref_text.strip()
        prompt = self.model.create_voice_clone_prompt(
            ref_audio=(np.ascontiguousarray(samples, dtype=np.float32), int(rate)),
            ref_text=transcript or None,
            x_vector_only_mode=not transcript,
        )
        self._prompts[key] = prompt
        while len(self._prompts) > PROMPT_CACHE_SIZE:
            self._prompts.popitem(last=False)
        return prompt
