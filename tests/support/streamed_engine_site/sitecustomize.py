"""Makes every Python process started with this directory on PYTHONPATH build a streamed
engine instead of the configured one: a generation is made of STREAMED_ENGINE_CHUNKS pieces
(default 3) of a tone, each `STREAMED_ENGINE_PIECE_SECONDS` long (default 1.5), and piece `i`
is made only once a file called `release-{i}` (taken away as the piece is made, so the next
generation waits again) or `release-all` appears in $STREAMED_ENGINE_DIR. Each piece is
handed over with `control.part(...)` as it is made, so a test can hold a generation
half-way, with its first pieces published, for as long as it needs.

For browser tests of audio heard while it is generated: the worker is a separate program
started by the server, so the engine cannot be handed to it any other way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

if os.environ.get("STREAMED_ENGINE_DIR"):
    import numpy as np

    import utter.engines
    from utter.engines.base import Audio, Capabilities, JobControl, Reference

    RATE = 24_000

    def _piece(index: int, seconds: float) -> np.ndarray:
        # A tone whose pitch differs per piece, faded in and out: plain audible audio that
        # every decoder takes, and that levelling leaves as it is.
        t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
        tone = 0.3 * np.sin(2 * np.pi * (220.0 + 55.0 * index) * t)
        fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)
        return (tone * fade).astype(np.float32)

    class StreamedEngine:
        def __init__(self, directory: Path) -> None:
            self.directory = directory
            self.chunks = int(os.environ.get("STREAMED_ENGINE_CHUNKS", "3"))
            self.seconds = float(os.environ.get("STREAMED_ENGINE_PIECE_SECONDS", "1.5"))

        def capabilities(self) -> Capabilities:
            return Capabilities(
                name="streamed",
                languages=("English",),
                clone=True,
                design=True,
                max_chunk_chars=500,
                sample_rate=RATE,
            )

        def _released(self, index: int) -> bool:
            if (self.directory / "release-all").exists():
                return True
            try:
                (self.directory / f"release-{index}").unlink()
            except FileNotFoundError:
                return False
            return True

        def _speak(self, control: JobControl, publish: bool) -> Audio:
            pieces = []
            for index in range(self.chunks):
                while not self._released(index):
                    control.check()
                    time.sleep(0.02)
                piece = _piece(index, self.seconds)
                pieces.append(piece)
                control.progress(index + 1, self.chunks)
                if publish:
                    control.part(index, self.chunks, Audio(piece, RATE))
            return Audio(np.concatenate(pieces), RATE)

        def generate(
            self, text: str, language: str, reference: Reference, control: JobControl
        ) -> Audio:
            return self._speak(control, publish=True)

        def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
            return self._speak(control, publish=False)

        def close(self) -> None:
            return None

    def _streamed_engine(settings: Any) -> Any:
        return StreamedEngine(Path(os.environ["STREAMED_ENGINE_DIR"]))

    utter.engines.create_engine = _streamed_engine  # type: ignore[assignment]
