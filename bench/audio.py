"""How long the audio pipeline takes: decode + checks + normalise + report per upload format,
a 5-minute reference, MP3/Opus encoding, and offline transcription.

    .venv/bin/python -m bench.audio

Prints a table and writes bench/results/audio.json. Uses the tests' synthesised speech.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.machine import machine
from tests.support.audio import ENCODINGS, encode, of_duration, speech
from utter.audio import ReferenceLimits, decode, encode_wav, prepare_reference, transcode
from utter.transcription import transcribe_english

RESULTS = Path(__file__).parent / "results" / "audio.json"


def best_of(runs: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    clip = speech()
    limits = ReferenceLimits()
    rows: list[dict[str, Any]] = []
    for fmt in sorted(ENCODINGS):
        data = encode(clip, fmt)
        seconds = best_of(3, partial(prepare_reference, data, limits))
        rows.append({"task": f"prepare_reference {fmt}", "audio_s": clip.duration, "s": seconds})

    five_minutes = encode(of_duration(clip, 299.0), "mp3")
    seconds = best_of(1, lambda: prepare_reference(five_minutes, limits))
    rows.append({"task": "prepare_reference 5 min mp3", "audio_s": 299.0, "s": seconds})

    samples = decode(clip.wav(), 24_000).samples
    wav = encode_wav(samples, 24_000)
    for fmt in ("mp3", "opus"):
        seconds = best_of(3, partial(transcode, wav, fmt))  # type: ignore[arg-type]
        rows.append({"task": f"transcode to {fmt}", "audio_s": clip.duration, "s": seconds})

    at_16k = decode(clip.wav(), 16_000).samples
    transcribe_english(at_16k[:16_000], 16_000)  # load the model outside the timing
    seconds = best_of(1, lambda: transcribe_english(at_16k, 16_000))
    rows.append({"task": "offline transcription", "audio_s": clip.duration, "s": seconds})

    print(f"{'task':34} {'audio s':>8} {'time s':>8} {'x real time':>12}")
    for row in rows:
        row["rtf"] = row["s"] / row["audio_s"]
        print(f"{row['task']:34} {row['audio_s']:8.1f} {row['s']:8.3f} {row['rtf']:12.4f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
