"""How soon the first piece of a generation is ready, next to the whole clip, with the
`local` engine.

    .venv/bin/python -m bench.parts

For texts of about 50, 500 and 5,000 characters, the local engine clones a reference
as a worker runs it, and the bench notes when `JobControl.part` hands over the first
piece (what a listener can start on: the Generate page, the task stream, the speech
API) and when the whole clip is done. For comparison it also times the first chunk as
it would be without the first sentence alone (the first 400-character window of
sentences): what a listener would wait for otherwise. Also the cost of a speed change
(ffmpeg atempo) on the first piece. Prints a table and writes bench/results/parts.json.
Wall times depend on what else the machine is doing: compare rows of the same run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench.engine import REFERENCE_TEXT, cpu_model
from utter.audio.tempo import change_tempo
from utter.engines.adapt import analyse_reference
from utter.engines.base import Audio, JobControl, Reference
from utter.engines.local import MAX_CHUNK_CHARS, LocalEngine
from utter.engines.text import split_sentences

RESULTS = Path(__file__).parent / "results" / "parts.json"

STORY = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling in the "
    "salt wind. Every evening the keeper climbed the spiral stairs, trimmed the wick and "
    "watched the beam sweep across the water, counting the ships that passed safely by. "
    "He had done this for forty years. When the letter came telling him that the light "
    "would be automated, he read it twice, folded it carefully and put it in the drawer "
    "with his father's watch. That night the sea was calm and the sky was full of stars. "
    "He sat by the lamp longer than usual, listening to the waves on the rocks below. "
)


def text_of(chars: int) -> str:
    """Whole sentences of the story, repeated, to about `chars` characters."""
    if chars <= 60:
        return "Hello! This is a short line to speak aloud."
    sentences = split_sentences(STORY * (chars // len(STORY) + 2))
    out: list[str] = []
    for sentence in sentences:
        if out and len(" ".join([*out, sentence])) > chars:
            break
        out.append(sentence)
    return " ".join(out)


def first_window(text: str, window: int = MAX_CHUNK_CHARS) -> str:
    """The first chunk if sentences were packed from the start (no first sentence alone)."""
    packed = ""
    for sentence in split_sentences(text):
        candidate = f"{packed} {sentence}" if packed else sentence
        if packed and len(candidate) > window:
            break
        packed = candidate
    return packed


def main() -> None:
    engine = LocalEngine()
    engine.source_profile()
    engine.plain("Warm up.", "English")  # first ONNX run allocates
    reference_audio = engine.design(REFERENCE_TEXT, "English", "a calm woman", JobControl())
    record = analyse_reference(reference_audio.samples, reference_audio.sample_rate, REFERENCE_TEXT)
    reference = Reference("bench-voice", reference_audio, REFERENCE_TEXT, "English", record)

    rows: list[dict[str, Any]] = []
    for label, chars in (("short", 50), ("medium", 500), ("long", 5_000)):
        text = text_of(chars)
        first: list[tuple[float, Audio, int]] = []
        start = time.perf_counter()

        def on_part(
            index: int,
            total: int,
            audio: Audio,
            start: float = start,
            first: list[tuple[float, Audio, int]] = first,
        ) -> None:
            if index == 0:
                first.append((time.perf_counter() - start, audio, total))

        clip = engine.generate(text, "English", reference, JobControl(on_part=on_part))
        whole_s = time.perf_counter() - start
        first_s, first_audio, pieces = first[0]

        window = first_window(text)
        began = time.perf_counter()
        engine.generate(window, "English", reference, JobControl())
        packed_first_s = time.perf_counter() - began

        began = time.perf_counter()
        change_tempo(first_audio.samples, first_audio.sample_rate, 1.5)
        tempo_s = time.perf_counter() - began

        rows.append(
            {
                "text": label,
                "chars": len(text),
                "pieces": pieces,
                "first_piece_s": round(first_s, 3),
                "first_piece_audio_s": round(first_audio.duration, 2),
                "whole_clip_s": round(whole_s, 3),
                "clip_audio_s": round(clip.duration, 2),
                "first_share": round(first_s / whole_s, 3),
                "first_window_chars": len(window),
                "first_window_s": round(packed_first_s, 3),
                "tempo_first_piece_s": round(tempo_s, 3),
            }
        )

    header = ("text", "chars", "pieces", "1st s", "1st aud", "whole s", "clip aud", "window s")
    print("{:6} {:>6} {:>6} {:>7} {:>8} {:>8} {:>9} {:>9}".format(*header))
    for row in rows:
        print(
            f"{row['text']:6} {row['chars']:6d} {row['pieces']:6d} {row['first_piece_s']:7.2f} "
            f"{row['first_piece_audio_s']:8.2f} {row['whole_clip_s']:8.2f} "
            f"{row['clip_audio_s']:9.2f} {row['first_window_s']:9.2f}"
        )
    print(
        "1st s: until the first piece exists; window s: the first chunk had sentences been "
        "packed from the start; atempo x1.5 on the first piece: "
        + ", ".join(f"{r['tempo_first_piece_s']:.3f} s" for r in rows)
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "cpu": cpu_model(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                },
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    engine.close()


if __name__ == "__main__":
    main()
