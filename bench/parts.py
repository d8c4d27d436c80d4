"""How soon the first piece of a generation is ready, next to the whole clip, with the
`local` engine.

    .venv/bin/python -m bench.parts

For texts of about 50, 500 and 5,000 characters, the local engine clones a reference
as a worker runs it, and the bench notes when `JobControl.part` hands over the first
piece (what a listener can start on: the Generate page, the task stream, the speech
API) and when the whole clip is done. For comparison it also times the first chunk as
it would be without the first sentence alone (the first 400-character window of
sentences): what a listener would wait for otherwise. Also the cost of a speed change
(ffmpeg atempo) on the first piece.

Then the same texts end to end, as a client hears them: Utter served over HTTP (uvicorn in
a thread, an embedded Postgres in a temporary directory) with a real worker and the local
engine; each text is submitted with POST /api/generate and GET /api/tasks/{id}/stream
(mp3) is read at once: time to the first audio byte and to the end of the stream, both
from the submit. Prints tables and writes bench/results/parts.json. Wall times depend on
what else the machine is doing: compare rows of the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.engine import REFERENCE_TEXT
from bench.machine import machine
from tests.support.server import serve
from utter.audio.convert import encode_wav
from utter.audio.tempo import change_tempo
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate
from utter.engines.adapt import analyse_reference
from utter.engines.base import Audio, JobControl, Reference
from utter.engines.local import MAX_CHUNK_CHARS, LocalEngine
from utter.engines.text import split_sentences
from utter.jobs.worker import run_worker
from utter.settings import Settings

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


SIZES = (("short", 50), ("medium", 500), ("long", 5_000))


async def through_api(workdir: Path) -> list[dict[str, Any]]:
    pg = EmbeddedPostgres(workdir / "postgres")
    database_url = pg.start()
    rows: list[dict[str, Any]] = []
    try:
        migrate(database_url)

        def settings_for(url: str) -> Settings:
            return Settings(  # type: ignore[call-arg]
                _env_file=None,
                data_dir=workdir / "data",
                database_url=database_url,
                public_url=url,
                serve_worker=False,
            ).resolved()

        engine = LocalEngine()
        reference = engine.design(REFERENCE_TEXT, "English", "a calm woman", JobControl())
        with serve(settings_for) as url:
            worker = asyncio.create_task(run_worker(settings_for(url), database_url, engine=engine))
            try:
                async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                    session = await client.post(
                        "/auth/v1/signup",
                        json={"email": "bench@example.test", "password": "bench-pass"},
                    )
                    headers = {"Authorization": f"Bearer {session.json()['access_token']}"}
                    voice = await client.post(
                        "/api/clone",
                        data={"name": "Bench", "language": "English", "transcript": REFERENCE_TEXT},
                        files={"audio": ("ref.wav", encode_wav(reference.samples, 24_000))},
                        headers=headers,
                    )
                    voice_id = voice.json()["id"]
                    for label, chars in (("warm-up", 50), *SIZES):
                        rows.append(await _streamed(client, headers, voice_id, label, chars))
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
    finally:
        pg.stop()
    return rows[1:]


async def _streamed(
    client: httpx.AsyncClient, headers: dict[str, str], voice_id: str, label: str, chars: int
) -> dict[str, Any]:
    text = text_of(chars)
    start = time.perf_counter()
    posted = await client.post(
        "/api/generate", json={"voice_id": voice_id, "text": text}, headers=headers
    )
    task_id = posted.json()["task_id"]
    first_byte = None
    size = 0
    async with client.stream("GET", f"/api/tasks/{task_id}/stream", headers=headers) as response:
        async for chunk in response.aiter_raw():
            if first_byte is None and chunk:
                first_byte = time.perf_counter() - start
            size += len(chunk)
    total = time.perf_counter() - start
    task = (await client.get(f"/api/tasks/{task_id}", headers=headers)).json()
    return {
        "text": label,
        "chars": len(text),
        "status": task["status"],
        "pieces": len(task["audio_parts"]),
        "first_byte_s": round(first_byte or total, 3),
        "stream_end_s": round(total, 3),
        "mp3_bytes": size,
    }


def main() -> None:
    engine = LocalEngine()
    engine.source_profile()
    engine.plain("Warm up.", "English")  # first ONNX run allocates
    reference_audio = engine.design(REFERENCE_TEXT, "English", "a calm woman", JobControl())
    record = analyse_reference(reference_audio.samples, reference_audio.sample_rate, REFERENCE_TEXT)
    reference = Reference("bench-voice", reference_audio, REFERENCE_TEXT, "English", record)

    rows: list[dict[str, Any]] = []
    for label, chars in SIZES:
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
    engine.close()

    with tempfile.TemporaryDirectory(prefix="utter-bench-parts-") as tmp:
        streamed = asyncio.run(through_api(Path(tmp)))
    print("\nThrough the API (POST /api/generate, then GET /api/tasks/{id}/stream as mp3):")
    print("{:6} {:>6} {:>6} {:>12} {:>12}".format("text", "chars", "pieces", "1st byte s", "end s"))
    for row in streamed:
        print(
            f"{row['text']:6} {row['chars']:6d} {row['pieces']:6d} "
            f"{row['first_byte_s']:12.2f} {row['stream_end_s']:12.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "rows": rows,
                "through_api": streamed,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
