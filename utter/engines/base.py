"""The protocol every TTS engine implements, and the types it speaks.

An engine turns text into samples; it holds its models and nothing else (no
database, no storage, no HTTP). Workers create one engine per process and call
it from the worker's own engine thread (`utter.jobs.worker`), one call at a time.
The API only reads the configured engine's `Capabilities` (its languages) and
never loads a model or synthesises.

Calls are synchronous and CPU/GPU-bound. Long work reports progress, hands over
each finished chunk's audio (`JobControl.part`) and checks for cancellation
between chunks through the `JobControl` it is given. Refusals
and failures meant for the user are domain errors (`utter.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from utter.errors import Failed, Invalid

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at `sample_rate`."""

    samples: Samples
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass(frozen=True)
class Reference:
    """A saved voice as an engine sees it: its normalised reference clip and transcript,
    and what an engine stored about the speaker when the voice was made (the `local`
    engine's analysis, JSON; None when nothing was stored)."""

    voice_id: str
    audio: Audio
    transcript: str
    language: str
    speaker_profile: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Capabilities:
    name: str
    # API language names the engine really supports ("Auto" included when it can choose).
    languages: tuple[str, ...]
    clone: bool
    design: bool
    # The longest chunk of text it synthesises in one go; longer text is split.
    max_chunk_chars: int
    sample_rate: int


class Cancelled(Exception):
    """Raised inside an engine call when the job was cancelled; the worker records it."""


def _never() -> bool:
    return False


@dataclass
class JobControl:
    """What an engine call may ask of the job running it."""

    is_cancelled: Callable[[], bool] = _never
    on_progress: Callable[[int, int], None] | None = None
    # Called with (index, total, audio) once per chunk, in order, as soon as that chunk's
    # final audio exists: the worker publishes it so a listener hears the start while
    # the rest is still being made.
    on_part: Callable[[int, int, Audio], None] | None = None
    _last: tuple[int, int] = field(default=(0, 0), repr=False)

    def check(self) -> None:
        """Raise Cancelled if the job was cancelled. Engines call this between chunks."""
        if self.is_cancelled():
            raise Cancelled()

    def progress(self, done: int, total: int) -> None:
        self._last = (done, total)
        if self.on_progress is not None:
            self.on_progress(done, total)

    def part(self, index: int, total: int, audio: Audio) -> None:
        """Hand over chunk `index` (0-based) of `total`, levelled as the whole clip will be.
        Engines call it once per chunk, in order; nothing happens when no one listens."""
        if self.on_part is not None:
            self.on_part(index, total, audio)


@runtime_checkable
class Engine(Protocol):
    def capabilities(self) -> Capabilities:
        """What this engine can do; cheap, does not load models."""
        ...

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        """Speak `text` in the voice of `reference`."""
        ...

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        """Speak `text` in a new voice described by `instruct` (a preview clip)."""
        ...

    def close(self) -> None:
        """Release models and connections."""
        ...


@runtime_checkable
class AnalysesSpeakers(Protocol):
    """An engine that keeps an analysis of each reference speaker with the voice."""

    def speaker_record(self, reference: Reference) -> dict[str, Any] | None:
        """The analysis to store with the voice when `reference.speaker_profile` is
        missing or outdated; None when the stored one is current. CPU-bound."""
        ...


class EngineError(Failed):
    """An engine failure whose message is written for the user who asked for the audio
    (the worker records it on the task). Configuration errors are not these: they go to
    the operator's log, and the user reads a generic failure."""


class UnsupportedLanguage(Invalid):
    def __init__(self, language: str, engine: str) -> None:
        super().__init__(f"The {engine} engine does not support {language}.")
        self.language = language
