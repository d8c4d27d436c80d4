"""Pieces of a generation published while it is made: in the task's poll before it
completes (a gated engine holds the later chunks back), only to its owner, as WAVs a
browser can fetch, gone with their generation or task, and swept an hour after the end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.jobs.conftest import CHUNK_CHARS, Studio, running_studio
from tests.support import audio
from tests.support.gated_engine import GatedEngine
from tests.support.objects import make_generation, make_voice
from tests.support.server import app_settings
from tests.support.users import make_user
from utter.api.owned import TASK_NOT_FOUND
from utter.cpu import CpuPool
from utter.db import Database
from utter.engines.adapt import PACE_RANGE
from utter.engines.base import Audio
from utter.engines.local import LocalEngine
from utter.engines.piper_voice import SENTENCE_PAUSE_SECONDS
from utter.engines.text import chunk_text
from utter.jobs.handlers import PiecePublisher, WorkerContext, part_key
from utter.jobs.queue import create_queue
from utter.jobs.sweeper import SweepPolicy, sweep
from utter.storage import create_storage

TEXT = " ".join((*audio.SENTENCES, "Thank you for listening to this short test."))


@pytest.fixture
async def gate(local_engine: LocalEngine) -> GatedEngine:
    return GatedEngine(local_engine, only=TEXT)


@pytest.fixture
async def gated_studio(
    db: Database, database_url: str, tmp_path: Path, gate: GatedEngine, cpu: CpuPool
) -> AsyncIterator[Studio]:
    async with running_studio(db, database_url, tmp_path / "data", gate, cpu) as running:
        try:
            yield running
        finally:
            gate.open()  # before the worker is stopped: it may be waiting at the gate


async def _fetch_wav(studio: Studio, url: str) -> tuple[Any, int]:
    # No headers: the URL alone must do, as for a browser's <audio> or fetch().
    response = await studio.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(response.content), dtype="float32")
    return samples, rate


async def _part_objects(studio: Studio, user_id: Any) -> list[str]:
    async with studio.db.as_service() as conn:
        rows = await (
            await conn.execute(
                "select name from storage.objects where bucket_id = 'generations'"
                " and name like %s order by name",
                (f"{user_id}/%/part-%",),
            )
        ).fetchall()
    return [row["name"] for row in rows]


async def test_pieces_appear_in_a_poll_before_the_task_completes(
    gated_studio: Studio, gate: GatedEngine
) -> None:
    studio = gated_studio
    user, voice = await studio.user_with_voice()
    other, _ = await studio.user_with_voice()
    started = await studio.generate(user, voice, TEXT)
    task_id, generation_id = started["task_id"], started["generation_id"]
    total = len(chunk_text(TEXT, CHUNK_CHARS))
    assert total >= 3

    waiting = await studio.wait_for(user, task_id, until=lambda t: t["status"] == "processing")
    assert waiting["audio_parts"] == []
    assert waiting["stream_url"] == f"/api/tasks/{task_id}/stream"

    gate.release(1)  # the first chunk only
    task = await studio.wait_for(user, task_id, until=lambda t: t["audio_parts"], within=60)
    assert task["status"] == "processing"
    assert task["chunks_done"] < total
    (piece,) = task["audio_parts"]
    assert piece["index"] == 0
    samples, rate = await _fetch_wav(studio, piece["url"])
    assert rate == 24_000
    assert len(samples) / rate == pytest.approx(piece["duration_seconds"], abs=0.002)
    # The first sentence, spoken: a second or more of sound, a few seconds at most.
    assert 1.0 < piece["duration_seconds"] < 6.0
    assert float(abs(samples).max()) > 0.1

    # The same task in the list carries its pieces too; another user sees nothing of it.
    listed = (await studio.client.get("/api/tasks", headers=user.headers)).json()["tasks"]
    assert [p["index"] for p in listed[0]["audio_parts"]] == [0]
    theirs = await studio.client.get(f"/api/tasks/{task_id}", headers=other.headers)
    assert (theirs.status_code, theirs.json()) == (404, {"detail": TASK_NOT_FOUND})
    assert (await studio.client.get("/api/tasks", headers=other.headers)).json() == {"tasks": []}

    gate.open()
    done = await studio.wait_for(user, task_id)
    assert done["status"] == "completed", done
    assert [p["index"] for p in done["audio_parts"]] == list(range(total))
    assert await _part_objects(studio, user.id) == [
        f"{user.id}/{generation_id}/part-{i:04d}.wav" for i in range(total)
    ]
    # The pieces are the clip: their lengths plus the pauses between them, each the pause
    # between two sentences at the clone's pace (which follows its reference).
    (generation,) = (await studio.client.get("/api/generations", headers=user.headers)).json()[
        "generations"
    ]
    pieces = sum(p["duration_seconds"] for p in done["audio_parts"])
    pause = (generation["duration_seconds"] - pieces) / (total - 1)
    shortest, longest = (SENTENCE_PAUSE_SECONDS * scale for scale in PACE_RANGE)
    assert shortest - 0.01 <= pause <= longest + 0.01, pause


async def test_pieces_are_deleted_with_their_generation_and_with_their_task(
    gated_studio: Studio, gate: GatedEngine
) -> None:
    studio = gated_studio
    gate.open()
    user, voice = await studio.user_with_voice()
    other, _ = await studio.user_with_voice()

    first = await studio.generate(user, voice, TEXT)
    done = await studio.wait_for(user, first["task_id"])
    assert len(done["audio_parts"]) >= 3
    assert len(await _part_objects(studio, user.id)) == len(done["audio_parts"])
    # Another user cannot delete them through the generation.
    refused = await studio.client.delete(
        f"/api/generations/{first['generation_id']}", headers=other.headers
    )
    assert refused.status_code == 404
    assert len(await _part_objects(studio, user.id)) == len(done["audio_parts"])

    deleted = await studio.client.delete(
        f"/api/generations/{first['generation_id']}", headers=user.headers
    )
    assert deleted.status_code == 200, deleted.text
    assert await _part_objects(studio, user.id) == []
    assert (await studio.task(user, first["task_id"]))["audio_parts"] == []
    gone = await studio.client.get(done["audio_parts"][0]["url"])
    assert gone.status_code == 404

    second = await studio.generate(user, voice, TEXT)
    done = await studio.wait_for(user, second["task_id"])
    assert len(await _part_objects(studio, user.id)) == len(done["audio_parts"]) >= 3
    removed = await studio.client.delete(f"/api/tasks/{second['task_id']}", headers=user.headers)
    assert removed.json() == {"ok": True}
    assert await _part_objects(studio, user.id) == []


async def test_a_design_preview_publishes_no_pieces(
    gated_studio: Studio, gate: GatedEngine
) -> None:
    studio = gated_studio
    gate.open()
    user, _ = await studio.user_with_voice()
    preview = await studio.client.post(
        "/api/voices/design/preview",
        json={"text": TEXT, "language": "English", "instruct": "A calm, low male voice."},
        headers=user.headers,
    )
    assert preview.status_code == 200, preview.text
    task = await studio.wait_for(user, preview.json()["task_id"])
    assert task["status"] == "completed", task
    assert (task["audio_parts"], task["stream_url"]) == ([], None)
    assert await _part_objects(studio, user.id) == []


async def test_pieces_are_swept_an_hour_after_their_task_ended(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    storage = create_storage(app_settings(tmp_path / "data"), db)
    user = await make_user(db)
    keys: dict[str, str] = {}
    async with db.as_service() as conn:
        for label, status, age in (
            ("old", "completed", "2 hours"),
            ("recent", "completed", "10 minutes"),
            ("running", "processing", None),
        ):
            row = await (
                await conn.execute(
                    "insert into public.tasks (user_id, type, status, completed_at)"
                    " values (%s, 'generate', %s, now() - %s::interval) returning id",
                    (user.id, status, age),
                )
            ).fetchone()
            assert row is not None
            keys[label] = f"{user.id}/{row['id']}/part-0000.wav"
            await conn.execute(
                "update public.tasks set audio_parts = jsonb_build_array(jsonb_build_object("
                "'index', 0, 'key', %s::text, 'duration_seconds', 1.0)) where id = %s",
                (keys[label], row["id"]),
            )
    for key in keys.values():
        await storage.put("generations", key, b"RIFF", "audio/wav", owner=user.id)

    queue = create_queue(database_url)
    async with queue.open_async():
        report = await sweep(db, queue, storage, SweepPolicy())
    assert report.parts_removed == 1
    assert await storage.stat("generations", keys["old"]) is None
    assert await storage.stat("generations", keys["recent"]) is not None
    assert await storage.stat("generations", keys["running"]) is not None
    async with db.as_service() as conn:
        rows = await (
            await conn.execute(
                "select audio_parts from public.tasks where user_id = %s order by created_at",
                (user.id,),
            )
        ).fetchall()
    assert [len(r["audio_parts"]) for r in rows].count(0) == 1


async def test_speed_shortens_each_piece_and_the_clip_and_is_stored(
    gated_studio: Studio, gate: GatedEngine
) -> None:
    studio = gated_studio
    gate.open()
    user, voice = await studio.user_with_voice()
    durations: dict[float, tuple[float, list[float]]] = {}
    for speed in (1.0, 2.0):
        response = await studio.client.post(
            "/api/generate",
            json={"voice_id": voice, "text": TEXT, "language": "English", "speed": speed},
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
        started = response.json()
        done = await studio.wait_for(user, started["task_id"])
        assert done["status"] == "completed", done
        generation = await studio.client.get(
            f"/api/generations/{started['generation_id']}/audio", headers=user.headers
        )
        wav = await studio.client.get(generation.headers["location"])
        samples, rate = sf.read(io.BytesIO(wav.content), dtype="float32")
        pieces = [p["duration_seconds"] for p in done["audio_parts"]]
        for part in done["audio_parts"][:1]:
            piece, _ = await _fetch_wav(studio, part["url"])
            assert len(piece) / rate == pytest.approx(part["duration_seconds"], abs=0.002)
        durations[speed] = (len(samples) / rate, pieces)
        async with studio.db.as_service() as conn:
            row = await (
                await conn.execute(
                    "select speed from public.generations where id = %s",
                    (started["generation_id"],),
                )
            ).fetchone()
        assert row == {"speed": speed}
    (normal, normal_pieces), (fast, fast_pieces) = durations[1.0], durations[2.0]
    # Twice as fast: half as long, within what separate renderings of a text vary.
    assert fast / normal == pytest.approx(0.5, abs=0.06)
    assert len(fast_pieces) == len(normal_pieces)
    for quick, slow in zip(fast_pieces, normal_pieces, strict=True):
        assert quick / slow == pytest.approx(0.5, abs=0.08)


async def test_a_piece_stored_after_its_task_ended_is_not_left_behind(
    db: Database, tmp_path: Path
) -> None:
    storage = create_storage(app_settings(tmp_path / "data"), db)
    user = await make_user(db)
    voice = await make_voice(db, user.id)
    generation = await make_generation(db, user.id, voice)
    async with db.as_service() as conn:
        row = await (
            await conn.execute(
                "insert into public.tasks (user_id, type, status, generation_id)"
                " values (%s, 'generate', 'processing', %s) returning *",
                (user.id, generation),
            )
        ).fetchone()
    assert row is not None
    ctx = WorkerContext(db=db, storage=storage, engine=None, engine_executor=None)  # type: ignore[arg-type]
    publisher = PiecePublisher(ctx, row)
    piece = Audio(np.zeros(2_400, dtype=np.float32), 24_000)

    publisher.on_part(0, 3, piece)
    await asyncio.sleep(0.5)
    async with db.as_service() as conn:
        await conn.execute(
            "update public.tasks set status = 'cancelled', completed_at = now() where id = %s",
            (row["id"],),
        )
    publisher.on_part(1, 3, piece)  # finished by the engine just as the user cancelled
    await publisher.drain()

    first, second = (part_key(user.id, generation, i) for i in (0, 1))
    assert await storage.stat("generations", first) is not None  # listed: kept until swept
    assert await storage.stat("generations", second) is None
    async with db.as_service() as conn:
        parts = await (
            await conn.execute("select audio_parts from public.tasks where id = %s", (row["id"],))
        ).fetchone()
    assert parts is not None and [p["index"] for p in parts["audio_parts"]] == [0]
