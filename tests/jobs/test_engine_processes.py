"""`utter worker --concurrency N` runs N engine calls at once, each in a process of its own,
and stops them all with itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.support.objects import make_task
from tests.support.postgres import migrated_database
from tests.support.serve_process import stop
from tests.support.users import make_user
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.jobs.queue import create_queue, defer

HELD_SITE = Path(__file__).parents[1] / "support" / "held_engine_site"
# Only against a hang (the processes start, import and connect first); nothing waits for
# it when the worker behaves.
HANG_GUARD_SECONDS = 120


async def _queue_previews(url: str, count: int) -> list[object]:
    task_ids: list[object] = []
    async with Database(url, min_size=1, max_size=2) as db:
        queue = create_queue(url)
        async with queue.open_async():
            for _ in range(count):  # one user each: each may have one preview running
                user = await make_user(db)
                task_id = await make_task(db, user.id, status="pending")
                async with db.as_service() as conn:
                    await defer(queue, conn, "design_preview", task_id)
                task_ids.append(task_id)
    return task_ids


async def _statuses(url: str, task_ids: list[object]) -> list[str]:
    async with Database(url, min_size=1, max_size=1) as db, db.as_service() as conn:
        rows = [await task_q.get(conn, task_id) for task_id in task_ids]
    return [str(row["status"]) if row else "missing" for row in rows]


def _wait(
    condition: Callable[[], bool], what: str, log: Path, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()}"
        time.sleep(0.05)


@pytest.mark.slow
def test_concurrency_2_runs_two_engine_calls_at_once_in_two_processes(
    pg_server_url: str, tmp_path: Path
) -> None:
    url = migrated_database(pg_server_url)
    task_ids = asyncio.run(_queue_previews(url, 2))
    held = tmp_path / "held"
    held.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.update(
        {
            "DATABASE_URL": url,
            "UTTER_DATA_DIR": str(tmp_path / "data"),
            "UTTER_WORKER_HEARTBEAT_SECONDS": "0.5",
            "HELD_ENGINE_DIR": str(held),
            "PYTHONPATH": os.pathsep.join(
                [str(HELD_SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "worker", "--concurrency", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    descendants: list[psutil.Process] = []
    try:

        def calls() -> list[Path]:
            return sorted(held.glob("calling-*"))

        # Both engine calls are in progress at the same time: neither returns until the
        # release file exists, which is written only after both have started.
        _wait(lambda: len(calls()) == 2, "the engine calls did not run at once", log, proc)
        callers = {int(path.name.split("-")[1]) for path in calls()}
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(callers) == 2, "both calls ran in one process"
        assert callers <= {child.pid for child in descendants}
        assert asyncio.run(_statuses(url, task_ids)) == ["processing", "processing"]

        (held / "release").touch()
        _wait(
            lambda: asyncio.run(_statuses(url, task_ids)) == ["completed", "completed"],
            "the jobs did not complete",
            log,
            proc,
        )
    finally:
        (held / "release").touch()
        stop(proc)
    assert proc.returncode == 0, log.read_text()
    # Stopping the worker stopped its engine processes too.
    _gone, alive = psutil.wait_procs(descendants, timeout=30)
    assert not alive, alive
