"""Makes the clone page's "Try the example voice" clip with Utter's own offline engine.

    .venv/bin/python scripts/make_example_voice.py

Writes `utter/web/assets/examples/example-voice.wav` (16 kHz mono PCM, as in-browser
recordings are) and `examples.json` (name, language, transcript), which the clone page
reads. The clip is speech Utter itself synthesised, so no one's real voice or
third-party recording ships with it. Re-run after changing the engine or the text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile
import soxr

from utter.engines.local import LocalEngine

OUT = Path(__file__).resolve().parent.parent / "utter" / "web" / "assets" / "examples"
RATE = 16000
NAME = "Example voice"
LANGUAGE = "English"
TEXT = (
    "Hello, and welcome to Utter. This short clip was made by Utter's own offline speech "
    "engine, so you can try cloning a voice before you record one of your own. For the best "
    "results, record ten to thirty seconds of clear speech in a quiet room."
)


def main() -> int:
    engine = LocalEngine()
    try:
        audio = engine.plain(TEXT, LANGUAGE)
    finally:
        engine.close()
    samples = np.asarray(audio.samples, dtype=np.float32)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    resampled = soxr.resample(samples, audio.sample_rate, RATE)
    OUT.mkdir(parents=True, exist_ok=True)
    wav = OUT / "example-voice.wav"
    soundfile.write(wav, resampled, RATE, subtype="PCM_16")
    manifest = {
        "examples": [
            {
                "name": NAME,
                "language": LANGUAGE,
                "audio": "/assets/examples/example-voice.wav",
                "file_name": "example-voice.wav",
                "transcript": TEXT,
            }
        ]
    }
    (OUT / "examples.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{wav} ({len(resampled) / RATE:.1f} s, {wav.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
