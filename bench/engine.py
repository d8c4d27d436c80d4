"""How fast the `local` engine speaks, next to raw Piper on the same text in the same run.

    .venv/bin/python -m bench.engine

For a ~300-character and a ~1,000-character English text it times: raw Piper
(the joe voice alone, no adaptation, no resampling), the local engine cloning a
reference (Piper + WORLD adaptation + 24 kHz + crossfades + level), and the local
engine designing a voice from a description. Also the one-off costs: loading Piper's
shipped voice profile (checking it was made for this model file), and analysing a new
reference (done once per voice, when it is saved; the engine then reads the stored
profile), and the process's resident memory after 5 more generations. Prints a table
and writes bench/results/engine.json. Wall times depend on what else the machine is
doing: compare rows of the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import machine
from utter.engines.adapt import analyse_reference
from utter.engines.base import Audio, JobControl, Reference
from utter.engines.local import LocalEngine
from utter.engines.piper_voice import DEFAULT_LENGTH_SCALE, PiperStyle

RESULTS = Path(__file__).parent / "results" / "engine.json"

SHORT_TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling in the "
    "salt wind. Every evening the keeper climbed the spiral stairs, trimmed the wick and "
    "watched the beam sweep across the water, counting the ships that passed safely by. "
    "He had done this for forty years."
)
LONG_TEXT = (
    SHORT_TEXT + " When the letter came telling him that the light would be automated, he read it "
    "twice, folded it carefully and put it in the drawer with his father's watch. That "
    "night the sea was calm and the sky was full of stars. He sat by the lamp longer "
    "than usual, listening to the waves on the rocks below, and thought about the "
    "storms he had seen: the winter the harbour froze, the fishing boat that limped "
    "home with a broken mast, the summer a whale swam so close he could hear it "
    "breathe. In the morning he made coffee, opened the logbook and wrote the date, "
    "the wind and the weather, as he always had. Then, for the first time, he added "
    "a line of his own: the light is in good hands."
)
REFERENCE_TEXT = (
    "My brother likes to read books in the garden. Please call me when you get home "
    "tonight. We need to buy some bread and milk before the store closes."
)
DESCRIPTION = "a warm, slightly slow, middle-aged woman"
RUNS = 2
RSS_GENERATIONS = 5


def trim_heap() -> None:
    """Hand freed heap pages back to the system (glibc), as a worker does after a job, so
    the RSS left is what is really held."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        ctypes.CDLL(name).malloc_trim(0)


def rss_mb() -> float:
    """This process's resident memory (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def best(work: Callable[[], Audio]) -> tuple[float, float]:
    """Best wall time of RUNS and the audio duration it produced."""
    results = [timed(work) for _ in range(RUNS)]
    seconds, audio = min(results, key=lambda r: r[0])
    return seconds, audio.duration


def main() -> None:
    engine = LocalEngine()
    load_s, _ = timed(engine.source_profile)
    piper = engine.piper
    piper.speak("Warm up.", "en-us", PiperStyle())  # first ONNX run allocates

    reference_audio = engine.design(REFERENCE_TEXT, "English", "a calm woman", JobControl())
    analyse_s, record = timed(
        lambda: analyse_reference(
            reference_audio.samples, reference_audio.sample_rate, REFERENCE_TEXT
        )
    )
    # As the worker builds it: the profile stored when the voice was saved comes along.
    reference = Reference("bench-voice", reference_audio, REFERENCE_TEXT, "English", record)

    def raw_piper(text: str) -> Audio:
        # At the engine's default pace, so both say the text in about the same time.
        style = PiperStyle(length_scale=DEFAULT_LENGTH_SCALE)
        return Audio(piper.speak(text, "en-us", style), piper.sample_rate)

    rows: list[dict[str, Any]] = []
    for label, text in (("short", SHORT_TEXT), ("long", LONG_TEXT)):
        cases: dict[str, Callable[[], Audio]] = {
            "raw piper": lambda text=text: raw_piper(text),  # type: ignore[misc]
            "local clone": lambda text=text: engine.generate(  # type: ignore[misc]
                text, "English", reference, JobControl()
            ),
            "local design": lambda text=text: engine.design(  # type: ignore[misc]
                text, "English", DESCRIPTION, JobControl()
            ),
        }
        piper_rtf = None
        for case, work in cases.items():
            seconds, duration = best(work)
            rtf = seconds / duration
            piper_rtf = piper_rtf or rtf
            rows.append(
                {
                    "text": label,
                    "chars": len(text),
                    "case": case,
                    "wall_s": round(seconds, 3),
                    "audio_s": round(duration, 2),
                    "rtf": round(rtf, 4),
                    "x_raw_piper": round(rtf / piper_rtf, 2),
                }
            )

    for _ in range(RSS_GENERATIONS):
        engine.generate(SHORT_TEXT, "English", reference, JobControl())
    rss = rss_mb()
    trim_heap()
    rss_trimmed = rss_mb()

    print(f"one-off: load Piper + its shipped profile {load_s:.2f} s;", end=" ")
    print(f"analyse a reference {analyse_s:.2f} s;", end=" ")
    print(f"RSS after {RSS_GENERATIONS} more generations {rss:.0f} MB", end=" ")
    print(f"({rss_trimmed:.0f} MB after malloc_trim)")
    header = ("text", "chars", "case", "wall s", "audio s", "RTF", "x piper")
    print("{:6} {:>5} {:13} {:>7} {:>8} {:>7} {:>8}".format(*header))
    for row in rows:
        print(
            f"{row['text']:6} {row['chars']:5d} {row['case']:13} {row['wall_s']:7.2f} "
            f"{row['audio_s']:8.2f} {row['rtf']:7.3f} {row['x_raw_piper']:8.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "runs_per_case": RUNS,
                "load_shipped_profile_s": round(load_s, 3),
                "analyse_reference_s": round(analyse_s, 3),
                "rss_mb_after_generations": round(rss, 1),
                "rss_mb_after_malloc_trim": round(rss_trimmed, 1),
                "rss_generations": RSS_GENERATIONS,
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
