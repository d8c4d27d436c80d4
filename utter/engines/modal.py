"""The `modal` engine: Qwen3-TTS on Modal's serverless GPUs (the app in `modal_app/`).

The worker keeps the text work (splitting into chunks, the length bound, the joins) and
sends each batch of chunks to the deployed class as one *spawned* call, which it polls
with short waits, checking between waits whether the job was cancelled; a cancelled job
cancels its call on Modal (`FunctionCall.cancel()`), so the GPU stops too.

One call per batch, rather than one for the whole text, is what makes progress and
cancellation mean something: progress moves after each batch, a cancel stops the work
within one batch, and a failure names the batch. The containers keep the model loaded and
each reference's clone prompt cached, so a call costs little beyond its generation.

Credentials are the Modal SDK's own: `MODAL_TOKEN_ID` / `MODAL_TOKEN_SECRET` in the
environment or `~/.modal.toml` (`modal token new`); Utter never reads them.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import soxr

from utter.engines.base import (
    Audio,
    Cancelled,
    Capabilities,
    EngineError,
    JobControl,
    Reference,
    Samples,
    UnsupportedLanguage,
)
from utter.engines.qwen_common import (
    DEFAULT_MAX_CHUNK_CHARS,
    QWEN_LANGUAGES,
    SAMPLE_RATE,
    max_new_tokens_for,
    synthesize_in_groups,
)
from utter.engines.text import chunk_text

if TYPE_CHECKING:
    from utter.settings import Settings

log = logging.getLogger(__name__)

# (app name, class name) -> a `modal.Cls` (or a stand-in with the same surface).
ClassLookup = Callable[[str, str], Any]


class ModalCallError(EngineError):
    """A call to the deployed app could not be made, failed remotely, or timed out."""


def modal_class_lookup(environment: str | None = None) -> ClassLookup:
    """Look classes up in the deployed app through the Modal SDK (lazily: nothing is
    contacted until the first call)."""

    def lookup(app_name: str, class_name: str) -> Any:
        import modal

        return modal.Cls.from_name(app_name, class_name, environment_name=environment)

    return lookup


def _wav_bytes(audio: Audio) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio.samples, audio.sample_rate, "PCM_16", format="WAV")
    return buffer.getvalue()


def _decode_wav(data: bytes) -> Samples:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    wav: Samples = np.ascontiguousarray(samples, dtype=np.float32)
    if rate != SAMPLE_RATE:
        wav = soxr.resample(wav, rate, SAMPLE_RATE).astype(np.float32, copy=False)
    return wav


class ModalEngine:
    def __init__(
        self,
        *,
        app_name: str = "utter-qwen3-tts",
        clone_class: str = "QwenClone",
        design_class: str = "QwenDesign",
        lookup: ClassLookup | None = None,
        poll_seconds: float = 1.0,
        call_timeout_seconds: float = 1800.0,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        batch_size: int = 4,
        max_new_tokens: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_seconds <= 0 or call_timeout_seconds <= 0:
            raise ValueError("poll_seconds and call_timeout_seconds must be positive")
        if max_chunk_chars < 1 or batch_size < 1 or max_new_tokens < 1:
            raise ValueError("max_chunk_chars, batch_size and max_new_tokens must be positive")
        self._app_name = app_name
        self._class_names = {"clone": clone_class, "design": design_class}
        self._lookup = lookup or modal_class_lookup()
        self._poll_seconds = poll_seconds
        self._call_timeout = call_timeout_seconds
        self._max_chunk_chars = max_chunk_chars
        self._batch_size = batch_size
        self._max_new_tokens = max_new_tokens
        self._clock = clock
        self._instances: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings, lookup: ClassLookup | None = None) -> ModalEngine:
        return cls(
            app_name=settings.modal_app_name,
            clone_class=settings.modal_clone_class,
            design_class=settings.modal_design_class,
            lookup=lookup or modal_class_lookup(settings.modal_environment),
            poll_seconds=settings.modal_poll_seconds,
            call_timeout_seconds=settings.modal_call_timeout_seconds,
            max_chunk_chars=settings.qwen_max_chunk_chars,
            batch_size=settings.qwen_batch_size,
            max_new_tokens=settings.qwen_max_new_tokens,
        )

    def capabilities(self) -> Capabilities:
        # The remote model cannot be asked without a GPU container starting; the released
        # checkpoints all take this set, and the app rejects anything else by name.
        return Capabilities(
            name="modal",
            languages=QWEN_LANGUAGES,
            clone=True,
            design=True,
            max_chunk_chars=self._max_chunk_chars,
            sample_rate=SAMPLE_RATE,
        )

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        self._require_language(language)
        ref_audio = _wav_bytes(reference.audio)  # encoded once, sent with each batch

        def speak(group: Sequence[str]) -> list[Samples]:
            return self._call(
                "clone",
                control,
                texts=list(group),
                language=language,
                ref_audio=ref_audio,
                ref_text=reference.transcript,
                max_new_tokens=max_new_tokens_for(group, self._max_new_tokens),
            )

        chunks = chunk_text(text, self._max_chunk_chars)
        return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        self._require_language(language)

        def speak(group: Sequence[str]) -> list[Samples]:
            return self._call(
                "design",
                control,
                texts=list(group),
                language=language,
                instruct=instruct,
                max_new_tokens=max_new_tokens_for(group, self._max_new_tokens),
            )

        chunks = chunk_text(text, self._max_chunk_chars)
        return synthesize_in_groups(chunks, self._batch_size, speak, control)

    def close(self) -> None:
        self._instances.clear()

    def _require_language(self, language: str) -> None:
        if language not in QWEN_LANGUAGES:
            raise UnsupportedLanguage(language, "modal")

    def _where(self, method: str) -> str:
        return f"{self._app_name}.{self._class_names[method]}.{method}"

    def _instance(self, method: str) -> Any:
        instance = self._instances.get(method)
        if instance is None:
            instance = self._lookup(self._app_name, self._class_names[method])()
            self._instances[method] = instance
        return instance

    def _call(self, method: str, control: JobControl, **arguments: Any) -> list[Samples]:
        """Spawn one remote call, wait for it while honouring cancellation, decode it."""
        expected = len(arguments["texts"])
        try:
            call = getattr(self._instance(method), method).spawn(**arguments)
        except Exception as error:
            raise ModalCallError(
                f"Could not start {self._where(method)} on Modal (is the app deployed and a "
                f"Modal token configured?): {type(error).__name__}: {error}"
            ) from error
        result = self._wait(call, method, control)
        if not isinstance(result, list) or len(result) != expected:
            raise ModalCallError(
                f"{self._where(method)} returned {type(result).__name__} instead of "
                f"{expected} WAV clips."
            )
        try:
            return [_decode_wav(clip) for clip in result]
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise ModalCallError(f"{self._where(method)} returned unreadable audio.") from error

    def _wait(self, call: Any, method: str, control: JobControl) -> Any:
        deadline = self._clock() + self._call_timeout
        while True:
            try:
                control.check()
            except Cancelled:
                self._cancel(call, method)
                raise
            try:
                return call.get(timeout=self._poll_seconds)
            except TimeoutError:
                # Only the builtin TimeoutError means "not finished yet"; Modal's own
                # timeout errors (the function's limit, an expired output) are failures.
                if self._clock() >= deadline:
                    self._cancel(call, method)
                    raise ModalCallError(
                        f"{self._where(method)} did not finish within "
                        f"{self._call_timeout:g} s; it was cancelled."
                    ) from None
            except Exception as error:
                raise ModalCallError(
                    f"{self._where(method)} failed on Modal: {type(error).__name__}: {error}"
                ) from error

    def _cancel(self, call: Any, method: str) -> None:
        try:
            call.cancel()
        except Exception:
            # The job ends either way; a call we could not cancel runs out on its own.
            log.warning("could not cancel the Modal call to %s", self._where(method), exc_info=True)
