"""Makes every Python process started with this directory on PYTHONPATH build a held engine
instead of the configured one: each engine call leaves a file named after its process in
$HELD_ENGINE_DIR and lasts until a file called `release` appears there.

For tests of `utter worker` as a real command: its engine processes are separate programs,
so the engine cannot be handed to them any other way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

if os.environ.get("HELD_ENGINE_DIR"):
    import numpy as np

    import utter.engines
    from utter.engines.base import Audio, Capabilities, JobControl, Reference

    class HeldEngine:
        def __init__(self, directory: Path) -> None:
            self.directory = directory

        def capabilities(self) -> Capabilities:
            return Capabilities(
                name="held",
                languages=("English",),
                clone=True,
                design=True,
                max_chunk_chars=500,
                sample_rate=24_000,
            )

        def _speak(self, control: JobControl) -> Audio:
            marker = self.directory / f"calling-{os.getpid()}-{time.monotonic_ns()}"
            marker.touch()
            while not (self.directory / "release").exists():
                control.check()
                time.sleep(0.02)
            return Audio(np.zeros(2_400, dtype=np.float32), 24_000)

        def generate(
            self, text: str, language: str, reference: Reference, control: JobControl
        ) -> Audio:
            return self._speak(control)

        def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
            return self._speak(control)

        def close(self) -> None:
            return None

    def _held_engine(settings: Any) -> Any:
        return HeldEngine(Path(os.environ["HELD_ENGINE_DIR"]))

    utter.engines.create_engine = _held_engine  # type: ignore[assignment]
