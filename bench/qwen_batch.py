"""Jobs at once on one `qwen` engine: model calls and wall time, batched across jobs or not.

    .venv/bin/python -m bench.qwen_batch [--jobs 2] [--sentences 8] [--batch-size 4]

Builds tiny random Qwen3-TTS checkpoints (tests/support/qwen_tiny.py) and runs the same
`--jobs` generations (each `--sentences` sentences in its own voice, one chunk per
sentence) two ways on one engine:

- one after another: what a worker running one job at a time does (each job batches
  only its own chunks);
- at once, one thread per job: what a `qwen` worker with UTTER_WORKER_CONCURRENCY=N
  does, the engine's batcher putting the jobs' chunks into shared model calls.

It counts the model calls (`generate_voice_clone`) and times the whole. The tiny model
runs on the CPU with one torch thread: its calls cost little and batching saves little
on it, so these are tiny-CPU figures, not GPU ones (on a GPU a batch of eight costs
about what one chunk does). Prints a table and writes bench/results/qwen_batch.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from tests.support.qwen_tiny import build_tiny_checkpoint, tiny_reference
from utter.engines.base import JobControl
from utter.engines.qwen import QwenEngine

RESULTS = Path(__file__).parent / "results" / "qwen_batch.json"
CHUNK_CHARS = 60
MAX_NEW_TOKENS = 24
RUNS = 3


def text_of(job: int, sentences: int) -> str:
    return " ".join(f"Reader {job} says sentence number {n}." for n in range(sentences))


class CallCounter:
    """Counts the model's batched calls and the chunks in them (and still runs them)."""

    def __init__(self) -> None:
        from qwen_tts import Qwen3TTSModel

        self.calls: list[int] = []
        original = Qwen3TTSModel.generate_voice_clone

        def counted(model: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(len(kwargs["text"]))
            return original(model, *args, **kwargs)

        Qwen3TTSModel.generate_voice_clone = counted  # type: ignore[method-assign]


def run(engine: QwenEngine, jobs: int, sentences: int, at_once: bool) -> float:
    def job(n: int) -> None:
        engine.generate(
            text_of(n, sentences),
            "English",
            tiny_reference(f"voice-{n}", pitch=120.0 + 20 * n),
            JobControl(),
        )

    start = time.perf_counter()
    if at_once:
        threads = [threading.Thread(target=job, args=(n,)) for n in range(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for n in range(jobs):
            job(n)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    counter = CallCounter()
    with tempfile.TemporaryDirectory() as root:
        base = build_tiny_checkpoint(Path(root) / "base", "base")
        engine = QwenEngine(
            base,
            device="cpu",
            max_chunk_chars=CHUNK_CHARS,
            batch_size=args.batch_size,
            max_new_tokens=MAX_NEW_TOKENS,
        )
        # Load the model and build every voice's prompt: what is timed is the chunks.
        for n in range(args.jobs):
            voice = tiny_reference(f"voice-{n}", pitch=120.0 + 20 * n)
            engine.generate("Warm up.", "English", voice, JobControl())
        rows = []
        for label, at_once in (("one after another", False), ("at once, batched", True)):
            walls, calls = [], []
            for _ in range(RUNS):
                counter.calls.clear()
                walls.append(run(engine, args.jobs, args.sentences, at_once))
                calls.append(list(counter.calls))
            rows.append(
                {
                    "mode": label,
                    "model_calls": len(calls[-1]),
                    "chunks_per_call": calls[-1],
                    "wall_seconds_median": round(statistics.median(walls), 3),
                    "wall_seconds": [round(w, 3) for w in walls],
                }
            )
        engine.close()

    print(
        f"{args.jobs} jobs × {args.sentences} chunks, batch size {args.batch_size}, "
        f"tiny checkpoint on CPU, 1 torch thread, {MAX_NEW_TOKENS} codec tokens at most a chunk"
    )
    print(f"{'mode':<20} {'model calls':>11} {'wall s (median)':>16}  chunks per call")
    for row in rows:
        print(
            f"{row['mode']:<20} {row['model_calls']:>11} {row['wall_seconds_median']:>16.3f}  "
            f"{row['chunks_per_call']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "jobs": args.jobs,
                "chunks_per_job": args.sentences,
                "batch_size": args.batch_size,
                "max_new_tokens": MAX_NEW_TOKENS,
                "runs": RUNS,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
