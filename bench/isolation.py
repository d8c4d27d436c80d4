"""Does heavy work of some users slow the light requests of others?

Starts a real `utter serve` (embedded Postgres, its worker child, its CPU processes) in a
temporary data dir, then measures, in one run:

* idle: 20 clients polling `GET /api/health` and `GET /api/tasks/{id}` (a finished task)
  for a few seconds, nothing else running;
* under load: the same 20 clients while 4 users each transcribe a 20 s clip, again and
  again, and another user's generation runs in the worker.

Prints p50 / p99 / max latency of both routes in both phases and the ratio of the loaded
p99 to the idle p99 (the target on a 2-core machine: health p99 under load within 5× its
idle p99, and no request over 1 s), and writes bench/results/isolation.json.

    .venv/bin/python -m bench.isolation [--seconds 15] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.machine import machine
from tests.support.audio import TEXT, concat, encode, of_duration, speech
from tests.support.serve_process import utter_serve

GENERATE_TEXT = (
    "The weather is nice today, so we will walk to the park after lunch. My brother likes "
    "to read books in the garden, and my sister plays the piano. Please call me when you "
    "get home tonight, because we need to plan the weekend before the store closes."
)


async def sign_up(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post(
        "/auth/v1/signup", json={"email": f"{name}@bench.test", "password": "bench-password"}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def wait_task(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> None:
    while True:
        task = (await client.get(f"/api/tasks/{task_id}", headers=headers)).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            if task["status"] != "completed":
                raise RuntimeError(f"task ended {task['status']}: {task.get('error')}")
            return
        await asyncio.sleep(0.5)


async def poll(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    while time.monotonic() < until:
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors.append(response.status_code)


async def phase(
    url: str, clients: int, seconds: float, poller: dict[str, str], task_path: str
) -> dict[str, Any]:
    """`clients` clients, half on health and half on the task, each on its own connection."""
    health: list[float] = []
    task: list[float] = []
    errors: list[int] = []
    until = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=1)
    pollers = []
    conns = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for _ in range(clients)]
    for i, conn in enumerate(conns):
        if i % 2 == 0:
            pollers.append(poll(conn, "/api/health", {}, until, health, errors))
        else:
            pollers.append(poll(conn, task_path, poller, until, task, errors))
    await asyncio.gather(*pollers)
    for conn in conns:
        await conn.aclose()
    return {"health": stats(health), "task": stats(task), "errors": errors}


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000

    return {"n": len(ordered), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


async def load(
    url: str, users: list[dict[str, str]], clip: bytes, until: float, done: list[float]
) -> None:
    async def transcribe_forever(headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            while time.monotonic() < until:
                started = time.perf_counter()
                response = await client.post(
                    "/api/transcriptions", headers=headers, files={"audio": ("clip.wav", clip)}
                )
                response.raise_for_status()
                done.append(time.perf_counter() - started)

    await asyncio.gather(*(transcribe_forever(h) for h in users))


async def run(seconds: float, clients: int) -> dict[str, Any]:
    clip = encode(of_duration(concat(speech(), speech()), 20.0), "wav")
    reference = encode(speech(), "wav")
    with (
        tempfile.TemporaryDirectory(prefix="utter-bench-isolation-") as tmp,
        utter_serve(Path(tmp) / "data", {"UTTER_LOG_LEVEL": "warning"}) as (_, url),
    ):
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            speaker = await sign_up(client, "speaker")
            poller = await sign_up(client, "poller")
            listeners = [await sign_up(client, f"listener{i}") for i in range(4)]
            voice = await client.post(
                "/api/clone",
                headers=speaker,
                files={"audio": ("me.wav", reference, "audio/wav")},
                data={"name": "Me", "transcript": TEXT, "language": "English"},
            )
            voice.raise_for_status()
            voice_id = voice.json()["id"]
            # The poller's own finished task: what a client polls after a generation.
            preview = await client.post(
                "/api/voices/design/preview",
                headers=poller,
                json={"text": "Hello.", "language": "English", "instruct": "A calm voice."},
            )
            preview.raise_for_status()
            poll_task = preview.json()["task_id"]
            await wait_task(client, poller, poll_task)
            # Warm the CPU processes and the worker's engine outside the measurements.
            warm = await client.post(
                "/api/transcriptions", headers=listeners[0], files={"audio": ("w.wav", clip)}
            )
            warm.raise_for_status()
            task_path = f"/api/tasks/{poll_task}"

            idle = await phase(url, clients, seconds, poller, task_path)

            generation = await client.post(
                "/api/generate",
                headers=speaker,
                json={"voice_id": voice_id, "text": GENERATE_TEXT},
            )
            generation.raise_for_status()
            transcriptions: list[float] = []
            until = time.monotonic() + seconds
            loaded, _ = await asyncio.gather(
                phase(url, clients, seconds, poller, task_path),
                load(url, listeners, clip, until, transcriptions),
            )
            await wait_task(client, speaker, generation.json()["task_id"])
    return {
        "machine": machine(),
        "clients": clients,
        "seconds_per_phase": seconds,
        "idle": idle,
        "loaded": loaded,
        "transcriptions_done": len(transcriptions),
        "transcription_seconds": stats(transcriptions),
        "health_p99_ratio": loaded["health"]["p99_ms"] / idle["health"]["p99_ms"],
        "task_p99_ratio": loaded["task"]["p99_ms"] / idle["task"]["p99_ms"],
        "max_ms_under_load": max(loaded["health"]["max_ms"], loaded["task"]["max_ms"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=20, help="polling clients")
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.clients))

    print(f"{args.clients} polling clients, {args.seconds:.0f} s per phase, {os.cpu_count()} CPUs")
    print("load: 4 users transcribing 20 s clips back to back + one generation\n")
    print(f"{'route':<16} {'phase':<7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for route in ("health", "task"):
        for name in ("idle", "loaded"):
            s = result[name][route]
            print(
                f"{route:<16} {name:<7} {s['n']:>6} {s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f}"
                f" {s['max_ms']:>8.1f}"
            )
    print(
        f"\nhealth p99 loaded / idle: {result['health_p99_ratio']:.2f}×   "
        f"task p99 loaded / idle: {result['task_p99_ratio']:.2f}×   "
        f"slowest request under load: {result['max_ms_under_load']:.0f} ms   "
        f"transcriptions finished: {result['transcriptions_done']}"
    )
    errors = result["idle"]["errors"] + result["loaded"]["errors"]
    if errors:
        print(f"non-200 answers: {errors}")
    out = Path(__file__).parent / "results" / "isolation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
