"""Time to the first audio byte, and to the last, through OpenAI's speech endpoint.

Runs Utter for real (uvicorn on a free port, its worker process with the `local` engine
as `utter serve` runs it, an embedded Postgres in a temporary directory) and speaks texts
of 50, 500 and 5,000 characters in one saved voice two ways, as a client sees them:

* `/v1/audio/speech`: one request, the audio streamed as its pieces are made (mp3);
* the poll-until-done baseline over /api: POST /api/generate, poll GET /api/tasks/{id}
  until completed, then download the mp3 (GET /api/generations/{id}/audio?format=mp3),
  where the first byte can only come after the whole generation is done.

    .venv/bin/python -m bench.speech_api [--runs 1]

Prints a table and writes bench/results/speech_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.machine import machine
from tests.support.server import serve
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate
from utter.settings import Settings

LENGTHS = (50, 500, 5000)
SENTENCES = (
    "The morning train left the station a few minutes late.",
    "Outside the windows, fields of wheat rolled past under a pale sky.",
    "A child near the door counted the cows aloud, and nobody stopped her.",
    "By the time the train reached the river, the mist had burned away.",
    "The conductor walked the carriage, checking tickets and smiling at everyone.",
    "At last the city appeared on the horizon, its towers shining in the light.",
)
RESULTS = Path(__file__).parent / "results"


def text_of(length: int) -> str:
    """Whole sentences up to about `length` characters (the last one cut at a word)."""
    words: list[str] = []
    index = 0
    while len(" ".join(words)) < length:
        words.extend(SENTENCES[index % len(SENTENCES)].split())
        index += 1
    text = " ".join(words)[:length].rsplit(" ", 1)[0].rstrip(",")
    return text if text.endswith(".") else text + "."


async def streamed(client: httpx.AsyncClient, key: str, voice: str, text: str) -> dict[str, float]:
    start = time.perf_counter()
    first: float | None = None
    size = 0
    async with client.stream(
        "POST",
        "/v1/audio/speech",
        json={"model": "tts-1", "voice": voice, "input": text, "response_format": "mp3"},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - start
            size += len(chunk)
    total = time.perf_counter() - start
    assert first is not None and size > 0
    return {"first_byte": first, "total": total}


async def polled(client: httpx.AsyncClient, key: str, voice_id: str, text: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    start = time.perf_counter()
    posted = await client.post(
        "/api/generate", json={"voice_id": voice_id, "text": text}, headers=headers
    )
    posted.raise_for_status()
    task_id, generation_id = posted.json()["task_id"], posted.json()["generation_id"]
    while True:
        task = (await client.get(f"/api/tasks/{task_id}", headers=headers)).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.25)  # the web app's own poll interval is longer
    assert task["status"] == "completed", task
    first: float | None = None
    async with client.stream(
        "GET", f"/api/generations/{generation_id}/audio?format=mp3", headers=headers
    ) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    assert first is not None
    return {"first_byte": first, "total": total}


async def bench(runs: int, workdir: Path) -> dict[str, Any]:
    pg = EmbeddedPostgres(workdir / "postgres")
    url = pg.start()
    try:
        migrate(url)

        def settings_for(public_url: str) -> Settings:
            return Settings(  # type: ignore[call-arg]
                _env_file=None,
                data_dir=workdir / "data",
                database_url=url,
                public_url=public_url,
                serve_worker=True,
                engine="local",
                cpu_workers=1,
                worker_heartbeat_seconds=0.5,
            ).resolved()

        # The worker is the server's own child process, as under `utter serve`: an engine
        # in this process would share its interpreter with the streaming server.
        with serve(settings_for) as base:
            async with httpx.AsyncClient(
                base_url=base, timeout=600, follow_redirects=True
            ) as client:
                return await measure(client, runs)
    finally:
        pg.stop()


async def measure(client: httpx.AsyncClient, runs: int) -> dict[str, Any]:
    session = await client.post(
        "/auth/v1/signup", json={"email": "bench@example.test", "password": "bench-pass-1"}
    )
    session.raise_for_status()
    headers = {"Authorization": f"Bearer {session.json()['access_token']}"}
    made = await client.post("/api/keys", json={"name": "bench"}, headers=headers)
    made.raise_for_status()
    key = made.json()["key"]
    # Both ways speak in the same saved voice (the stock voice alloy's reference, cloned):
    # a voice's analysed profile sets the pace, so two voices would not speak as long.
    from utter.audio.convert import encode_wav
    from utter.engines.stock import stock_reference

    reference = stock_reference("alloy")
    voice = await client.post(
        "/api/clone",
        data={"name": "Alloy copy", "language": "English", "transcript": reference.transcript},
        files={"audio": ("alloy.wav", encode_wav(reference.audio.samples, 24_000))},
        headers=headers,
    )
    voice.raise_for_status()
    voice_id = voice.json()["id"]
    await streamed(client, key, voice_id, text_of(50))  # warms the engine and the voice up
    rows: list[dict[str, Any]] = []
    for length in LENGTHS:
        text = text_of(length)
        stream_runs = [await streamed(client, key, voice_id, text) for _ in range(runs)]
        poll_runs = [await polled(client, key, voice_id, text) for _ in range(runs)]
        for way, measured in (
            ("/v1/audio/speech (streamed)", stream_runs),
            ("poll /api", poll_runs),
        ):
            rows.append(
                {
                    "characters": len(text),
                    "way": way,
                    "first_byte_seconds": statistics.median(r["first_byte"] for r in measured),
                    "total_seconds": statistics.median(r["total"] for r in measured),
                    "runs": len(measured),
                }
            )
    return {"engine": "local", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="utter-bench-speech-") as scratch:
        result = asyncio.run(bench(args.runs, Path(scratch)))
    print(f"{'chars':>6}  {'way':30s} {'first byte':>11} {'total':>8}")
    for row in result["rows"]:
        print(
            f"{row['characters']:>6}  {row['way']:30s} {row['first_byte_seconds']:>10.2f}s "
            f"{row['total_seconds']:>7.2f}s"
        )
    RESULTS.mkdir(exist_ok=True)
    result["machine"] = machine()
    (RESULTS / "speech_api.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
