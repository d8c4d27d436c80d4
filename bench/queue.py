"""How long the queue adds around the engine, on this machine.

Runs Utter (the API in-process, a real worker with the local engine, an embedded
Postgres in a temporary directory), then submits generations one after another and
measures, for each:

* submit → claimed: from the task's creation (inside POST /api/generate) to the worker
  claiming it (`tasks.started_at - tasks.created_at`, both from the database clock);
* POST /api/generate: the request's round trip, as the client sees it;
* last chunk → completed: from the engine returning its audio to the task being
  completed (encoding the WAV, peaks, storing it, the finishing transaction);
* engine: the engine call itself, the baseline the overheads compare with.

    .venv/bin/python -m bench.queue [--runs 10]

Prints a table and writes bench/results/queue.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from utter.app import create_app
from utter.db import Database
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate
from utter.engines.base import Audio, Capabilities, JobControl, Reference
from utter.engines.local import LocalEngine
from utter.jobs.worker import run_worker
from utter.settings import Settings

TEXT = "The weather is nice today, so we will walk to the park after lunch."
REFERENCE_TEXT = (
    "Please call me when you get home tonight. We need to buy some bread and milk before"
    " the store closes, and then we will walk to the park."
)


class TimedEngine:
    """The local engine, noting when each call returns (wall clock, as the database's)."""

    def __init__(self, inner: LocalEngine) -> None:
        self.inner = inner
        self.returned: list[float] = []
        self.durations: list[float] = []

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        start = time.perf_counter()
        audio = self.inner.generate(text, language, reference, control)
        self.durations.append(time.perf_counter() - start)
        self.returned.append(time.time())
        return audio

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        return self.inner.design(text, language, instruct, control)

    def close(self) -> None:
        self.inner.close()


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


async def bench(runs: int, workdir: Path) -> dict[str, Any]:
    pg = EmbeddedPostgres(workdir / "postgres")
    url = pg.start()
    try:
        migrate(url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=workdir / "data", database_url=url, public_url="http://bench"
        ).resolved()
        engine = TimedEngine(LocalEngine())
        from utter.audio.convert import encode_wav

        reference = engine.inner.design(
            REFERENCE_TEXT, "English", "A calm middle-aged man.", JobControl()
        )
        async with Database(url) as db:
            app = create_app(settings, db=db, worker=False)
            worker = asyncio.create_task(run_worker(settings, url, engine=engine))  # type: ignore[arg-type]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                session = await client.post(
                    "/auth/v1/signup",
                    json={"email": "bench@example.test", "password": "bench-pass"},
                )
                headers = {"Authorization": f"Bearer {session.json()['access_token']}"}
                voice = await client.post(
                    "/api/clone",
                    data={"name": "Bench", "language": "English", "transcript": REFERENCE_TEXT},
                    files={
                        "audio": ("ref.wav", encode_wav(reference.samples, reference.sample_rate))
                    },
                    headers=headers,
                )
                voice_id = voice.json()["id"]
                rows = []
                for index in range(runs + 1):  # the first run warms the model up; not counted
                    start = time.perf_counter()
                    posted = await client.post(
                        "/api/generate", json={"voice_id": voice_id, "text": TEXT}, headers=headers
                    )
                    post_seconds = time.perf_counter() - start
                    task_id = posted.json()["task_id"]
                    while True:
                        task = (await client.get(f"/api/tasks/{task_id}", headers=headers)).json()
                        if task["status"] in ("completed", "failed", "cancelled"):
                            break
                        await asyncio.sleep(0.02)
                    assert task["status"] == "completed", task
                    async with db.as_service() as conn:
                        row = await (
                            await conn.execute(
                                "select extract(epoch from started_at - created_at) as claim,"
                                " extract(epoch from completed_at) as completed"
                                " from public.tasks where id = %s",
                                (task_id,),
                            )
                        ).fetchone()
                    assert row is not None
                    if index == 0:
                        continue
                    rows.append(
                        {
                            "post": post_seconds,
                            "claim": float(row["claim"]),
                            "finish": float(row["completed"]) - engine.returned[-1],
                            "engine": engine.durations[-1],
                        }
                    )
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    finally:
        pg.stop()
    return {
        "runs": runs,
        "text_chars": len(TEXT),
        "post_generate_seconds": summary([r["post"] for r in rows]),
        "submit_to_claimed_seconds": summary([r["claim"] for r in rows]),
        "last_chunk_to_completed_seconds": summary([r["finish"] for r in rows]),
        "engine_seconds": summary([r["engine"] for r in rows]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="utter-bench-queue-") as tmp:
        result = asyncio.run(bench(args.runs, Path(tmp)))
    engine = result["engine_seconds"]["median"]
    print(f"{args.runs} generations of {result['text_chars']} characters, local engine\n")
    print(f"{'step':<28} {'median s':>9} {'p95 s':>8} {'max s':>8} {'× engine':>9}")
    for key, label in (
        ("post_generate_seconds", "POST /api/generate"),
        ("submit_to_claimed_seconds", "submit → worker claims"),
        ("last_chunk_to_completed_seconds", "last chunk → completed"),
        ("engine_seconds", "engine call (baseline)"),
    ):
        s = result[key]
        print(
            f"{label:<28} {s['median']:>9.3f} {s['p95']:>8.3f} {s['max']:>8.3f}"
            f" {s['median'] / engine:>9.3f}"
        )
    out = Path(__file__).parent / "results" / "queue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
