"""Faults: a worker killed mid-job, and two workers racing to finish the same task."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tests.jobs.conftest import Studio
from tests.support import audio
from tests.support.serve_process import utter_worker
from utter.db.queries import tasks as task_q
from utter.engines.base import Audio
from utter.jobs.handlers import WorkerContext, store_and_finish_generation

TEXT = " ".join(audio.SENTENCES * 3)


# Tight bounds so the test sees detection quickly; production uses 2 s / 30 s / 5 s.
FAST_DETECTION = {
    "UTTER_WORKER_HEARTBEAT_SECONDS": "0.5",
    "UTTER_TASK_STALE_SECONDS": "4",
    "UTTER_SWEEP_INTERVAL_SECONDS": "1",
}


async def test_a_killed_worker_is_noticed_and_its_task_finishes_on_another(
    studio: Studio, database_url: str, tmp_path: Path
) -> None:
    # The in-process worker of the fixture must not take the job: stop it first.
    user, voice = await studio.user_with_voice()
    log = tmp_path / "workers.log"
    data_dir = studio.settings.data_dir
    env = {"DATABASE_URL": database_url, **FAST_DETECTION}
    # Hold the job until a subprocess worker is the only one running.
    studio_worker_stopped = await _stop_in_process_worker(studio)
    assert studio_worker_stopped
    with utter_worker(data_dir, env, log_path=log) as (first, _):
        started = await studio.generate(user, voice, TEXT)
        running = await studio.wait_for(
            user,
            started["task_id"],
            until=lambda t: t["status"] == "processing" and t["chunks_done"] >= 1,
            within=240,
        )
        assert running["chunks_done"] < (running["chunks_total"] or 0)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = time.monotonic()

    with utter_worker(data_dir, env, log_path=log):
        task = await studio.wait_for(user, started["task_id"], within=300)
        recovered_in = time.monotonic() - killed_at
    assert task["status"] == "completed", (task, log.read_text()[-3000:])
    async with studio.db.as_service() as conn:
        row = await task_q.get(conn, started["task_id"])
    assert row is not None and row["attempts"] == 2
    print(f"killed worker's task completed on a second worker {recovered_in:.1f} s after the kill")
    # The user can generate again.
    again = await studio.client.post(
        "/api/generate", json={"voice_id": voice, "text": "Hello."}, headers=user.headers
    )
    assert again.status_code == 200, again.text


async def _stop_in_process_worker(studio: Studio) -> bool:
    """Cancel the fixture's in-process worker so only subprocess workers run jobs."""
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        if coro is not None and getattr(coro, "__qualname__", "") == "run_worker":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return True
    return False


async def test_racing_finishers_store_one_object_and_complete_once(studio: Studio) -> None:
    """Two workers that both produced audio for one task (e.g. a slow worker whose task
    was requeued) race to finish it: one object at the task's key, one completion."""
    user, voice = await studio.user_with_voice()
    await _stop_in_process_worker(studio)
    started = await studio.generate(user, voice, "Hello there.")
    async with studio.db.as_service() as conn:
        task = await task_q.claim(conn, started["task_id"])
    assert task is not None
    ctx = WorkerContext(
        db=studio.db,
        storage=studio.app.state.storage,
        engine=None,  # type: ignore[arg-type]
        engine_executor=ThreadPoolExecutor(max_workers=1),
    )
    rate = 24000
    clips = [
        Audio(np.sin(np.linspace(0, 400 * np.pi, rate * n)).astype(np.float32) * 0.5, rate)
        for n in (1, 2)
    ]
    await asyncio.gather(*(store_and_finish_generation(ctx, task, clip) for clip in clips))
    async with studio.db.as_service() as conn:
        objects = await (
            await conn.execute(
                "select name from storage.objects where bucket_id = 'generations' and name like %s",
                (f"{user.id}/%",),
            )
        ).fetchall()
        gen = await (
            await conn.execute(
                "select status, duration_seconds from public.generations where id = %s",
                (started["generation_id"],),
            )
        ).fetchone()
        final = await task_q.get(conn, started["task_id"])
    assert [r["name"] for r in objects] == [f"{user.id}/{started['generation_id']}.wav"]
    assert final is not None and final["status"] == "completed"
    assert gen is not None and gen["status"] == "completed"
    # The stored audio is the finisher that won: its duration is the row's.
    stored = await studio.app.state.storage.read(
        "generations", f"{user.id}/{started['generation_id']}.wav"
    )
    import io
    import wave

    with wave.open(io.BytesIO(stored)) as reader:
        assert reader.getnframes() / rate == gen["duration_seconds"]
