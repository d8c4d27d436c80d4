"""A real engine whose chunks wait for the test: GatedEngine(inner) speaks through `inner`
(the local engine), but each chunk starts only once the test released it, so a test can
look at a generation with exactly its first pieces made and the rest not yet begun.

The gate sits in `JobControl.check`, which chunked engines call before each chunk
(`synthesize_chunks`); cancellation is still honoured while a chunk waits. With `only`,
just the calls for that text are gated: a worker on the run's shared database also takes
other tests' leftover tasks (requeued by its sweeper), and those must not use up releases
or wait for ones that never come.
"""

from __future__ import annotations

import threading

from utter.engines.base import Audio, Capabilities, Engine, JobControl, Reference


class GatedEngine:
    def __init__(self, inner: Engine, *, only: str | None = None) -> None:
        self.inner = inner
        self.only = only
        self._released = threading.Semaphore(0)
        self._open = threading.Event()
        # Set while a chunk is waiting for its release.
        self.waiting = threading.Event()

    def release(self, chunks: int = 1) -> None:
        """Let the next `chunks` chunks be spoken."""
        for _ in range(chunks):
            self._released.release()

    def open(self) -> None:
        """Let every further chunk be spoken without waiting."""
        self._open.set()

    def _gated(self, text: str, control: JobControl) -> JobControl:
        if self.only is not None and text != self.only:
            return control
        gate = self

        class Gated(JobControl):
            def check(self) -> None:
                super().check()
                while not gate._open.is_set():
                    gate.waiting.set()
                    if gate._released.acquire(timeout=0.05):
                        break
                    super().check()
                gate.waiting.clear()

        return Gated(
            is_cancelled=control.is_cancelled,
            on_progress=control.on_progress,
            on_part=control.on_part,
        )

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        return self.inner.generate(text, language, reference, self._gated(text, control))

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        return self.inner.design(text, language, instruct, self._gated(text, control))

    def close(self) -> None:
        self.open()
