"""The engine runs on the worker's own thread: while a long engine call is in progress and
other jobs wait for the engine, the event loop's default executor (storage I/O, encoding,
argon2, the database driver's name lookups) still runs other work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tests.support.objects import make_task
from tests.support.postgres import migrated_database
from tests.support.server import app_settings
from tests.support.users import make_user
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.engines.base import Audio, Capabilities, JobControl, Reference
from utter.jobs.queue import create_queue, defer
from utter.jobs.worker import run_worker
from utter.metrics import scrape
from utter.settings import Settings

# Only against a hang: without it, a starved executor would stall the run instead of
# failing this test. Nothing here waits for it when the worker behaves.
HANG_GUARD_SECONDS = 30


class HeldEngine:
    """An engine whose calls last until the test releases them, and that counts how many
    run at once."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.release = threading.Event()
        self.entered = asyncio.Event()
        self.calls = 0
        self.most_at_once = 0
        self._running = 0
        self._count = threading.Lock()
        self._loop = loop

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name="held",
            languages=("English",),
            clone=True,
            design=True,
            max_chunk_chars=500,
            sample_rate=24_000,
        )

    def _speak(self, control: JobControl) -> Audio:
        with self._count:
            self.calls += 1
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        self._loop.call_soon_threadsafe(self.entered.set)
        try:
            self.release.wait()
            control.check()
            return Audio(np.zeros(2_400, dtype=np.float32), 24_000)
        finally:
            with self._count:
                self._running -= 1

    def generate(
        self, text: str, language: str, reference: Reference, control: JobControl
    ) -> Audio:
        return self._speak(control)

    def design(self, text: str, language: str, instruct: str, control: JobControl) -> Audio:
        return self._speak(control)

    def close(self) -> None:
        return None


async def _until_finished(db: Database, task_ids: list[object]) -> list[str]:
    deadline = asyncio.get_running_loop().time() + HANG_GUARD_SECONDS
    while True:
        async with db.as_service() as conn:
            rows = [await task_q.get(conn, task_id) for task_id in task_ids]
        statuses = [str(row["status"]) if row else "missing" for row in rows]
        if all(s in ("completed", "failed", "cancelled", "missing") for s in statuses):
            return statuses
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.05)


async def _two_jobs_beside_a_long_engine_call(settings: Settings, url: str) -> None:
    loop = asyncio.get_running_loop()
    # Fewer shared threads than the worker runs jobs at once: the shape in which engine
    # calls holding (or waiting in) default threads leave none for anything else.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    engine = HeldEngine(loop)
    async with Database(url, min_size=1, max_size=4) as db:
        task_ids: list[object] = []
        queue = create_queue(url)
        async with queue.open_async():
            for _ in range(2):  # two users: each may have its own preview running
                user = await make_user(db)
                task_id = await make_task(db, user.id, status="pending")
                async with db.as_service() as conn:
                    await defer(queue, conn, "design_preview", task_id)
                task_ids.append(task_id)

        worker = asyncio.create_task(run_worker(settings, url, concurrency=2, engine=engine))
        try:
            await asyncio.wait_for(engine.entered.wait(), HANG_GUARD_SECONDS)
            # One engine call is in progress and the other job waits for the engine; a
            # plain to_thread call must still get a thread. It is the call that releases
            # the engine, so a starved executor never finishes it.
            try:
                await asyncio.wait_for(asyncio.to_thread(engine.release.set), HANG_GUARD_SECONDS)
            except TimeoutError:
                engine.release.set()
                raise AssertionError(
                    "a to_thread call could not run while an engine call was in progress"
                ) from None
            statuses = await _until_finished(db, task_ids)
        finally:
            engine.release.set()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    assert statuses == ["completed", "completed"]
    assert engine.calls == 2
    # The engine's own executor still gives it one call at a time.
    assert engine.most_at_once == 1


def test_a_long_engine_call_leaves_the_default_executor_free(
    pg_server_url: str, tmp_path: Path
) -> None:
    url = migrated_database(pg_server_url)
    settings = app_settings(tmp_path / "data", database_url=url, public_url="http://testserver")
    # An event loop of its own (in its own thread), so shrinking its default executor
    # touches no other test.
    with ThreadPoolExecutor(max_workers=1) as runner:
        runner.submit(asyncio.run, _two_jobs_beside_a_long_engine_call(settings, url)).result()


async def test_a_worker_running_many_jobs_at_once_opens_a_pool_for_them(
    pg_server_url: str, tmp_path: Path
) -> None:
    """Each job polls its task about twice a second and writes its pieces: a worker running
    six jobs at once (a `qwen` worker's shape) opens a pool of eight, as the connection
    budget of `utter serve` counts it; with one job, the pool of four it always had."""
    url = migrated_database(pg_server_url)
    settings = app_settings(tmp_path / "data", database_url=url, public_url="http://testserver")
    engine = HeldEngine(asyncio.get_running_loop())
    engine.release.set()

    async def worker_pool_max(concurrency: int, expected: int) -> None:
        """Waits for the running worker's pool to show `expected` as its size in a scrape
        (the previous worker's pool may linger a moment)."""
        worker = asyncio.create_task(
            run_worker(settings, url, concurrency=concurrency, engine=engine)
        )
        pool = {"pool": f"worker-{os.getpid()}", "state": "max"}
        seen: float | None = None
        try:
            async with Database(url, min_size=1, max_size=1) as db:
                for _ in range(int(HANG_GUARD_SECONDS / 0.05)):
                    text = (await scrape(db)).decode()
                    for family in text_string_to_metric_families(text):
                        for s in family.samples:
                            if s.name == "utter_db_pool_connections" and s.labels == pool:
                                seen = s.value
                    if seen == expected:
                        return
                    await asyncio.sleep(0.05)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        raise AssertionError(f"the worker's pool of {concurrency} jobs: {seen}, not {expected}")

    await worker_pool_max(6, expected=8)
    await worker_pool_max(1, expected=4)
