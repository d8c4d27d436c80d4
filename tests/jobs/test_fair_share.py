"""Fair share between users with a real worker: one user's backlog does not block another
user's first job, and concurrent saves of one design preview make one voice; and the
schema's backstop for one active generation per user."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.jobs.conftest import Studio
from tests.support.api import ApiUser, sign_up
from tests.support.objects import make_voice
from tests.support.postgres import migrated_database
from tests.support.server import app_settings
from tests.support.users import make_user
from utter.app import create_app
from utter.db import Database
from utter.db.pool import Connection
from utter.db.queries import tasks as task_q
from utter.engines.local import LocalEngine
from utter.jobs.worker import run_worker


def preview_body(n: int) -> dict[str, str]:
    return {
        "text": f"Preview number {n} of a voice.",
        "language": "English",
        "instruct": "A calm, warm voice.",
    }


@pytest.fixture
async def own_database(pg_server_url: str) -> AsyncIterator[tuple[str, Database]]:
    """A database of its own, so the worker sees no other test's jobs (their order matters)."""
    url = await asyncio.to_thread(migrated_database, pg_server_url)
    db = Database(url, min_size=1, max_size=4)
    async with db:
        yield url, db


async def test_another_users_first_job_runs_before_one_users_backlog(
    own_database: tuple[str, Database], tmp_path: Path, local_engine: LocalEngine
) -> None:
    url, db = own_database
    settings = app_settings(
        tmp_path / "data",
        public_url="http://testserver",
        database_url=url,
        worker_heartbeat_seconds=0.5,
    )
    app = create_app(settings, db=db, worker=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        a, b = await sign_up(client), await sign_up(client)

        async def preview(user: ApiUser, n: int) -> str:
            response = await client.post(
                "/api/voices/design/preview", json=preview_body(n), headers=user.headers
            )
            assert response.status_code == 200, response.text
            return str(response.json()["task_id"])

        # A's backlog is queued first, B's one job last; no worker is running yet.
        a_tasks = [await preview(a, n) for n in range(3)]
        b_task = await preview(b, 0)

        worker = asyncio.create_task(run_worker(settings, url, concurrency=1, engine=local_engine))
        try:
            started: dict[str, Any] = {}
            for user, task_id in [(a, t) for t in a_tasks] + [(b, b_task)]:
                while True:
                    task = (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).json()
                    if task["status"] in ("completed", "failed", "cancelled"):
                        break
                    await asyncio.sleep(0.1)
                assert task["status"] == "completed", task
                async with db.as_service() as conn:
                    row = await (
                        await conn.execute(
                            "select started_at from public.tasks where id = %s", (task_id,)
                        )
                    ).fetchone()
                assert row is not None
                started[task_id] = row["started_at"]
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    order = sorted(started, key=lambda t: started[t])
    # A's first job was ahead of B's in time and in priority; B's first job goes before
    # A's second and third.
    assert order == [a_tasks[0], b_task, a_tasks[1], a_tasks[2]]


async def test_concurrent_saves_of_one_preview_make_exactly_one_voice(studio: Studio) -> None:
    user = await sign_up(studio.client)
    preview = await studio.client.post(
        "/api/voices/design/preview", json=preview_body(1), headers=user.headers
    )
    assert preview.status_code == 200, preview.text
    task = await studio.wait_for(user, preview.json()["task_id"])
    assert task["status"] == "completed", task

    saves = await asyncio.gather(
        *(
            studio.client.post(
                "/api/voices/design",
                json={"task_id": task["id"], "name": f"Voice {n}"},
                headers=user.headers,
            )
            for n in range(4)
        )
    )
    statuses = sorted(r.status_code for r in saves)
    assert statuses == [200, 409, 409, 409], [r.text for r in saves]
    for refused in (r for r in saves if r.status_code == 409):
        assert refused.json() == {"detail": "This preview was already saved as a voice."}
    voices = (await studio.client.get("/api/voices", headers=user.headers)).json()["voices"]
    (saved,) = (r.json() for r in saves if r.status_code == 200)
    assert [v["id"] for v in voices] == [saved["id"]]
    async with studio.db.as_service() as conn:
        row = await (
            await conn.execute("select result from public.tasks where id = %s", (task["id"],))
        ).fetchone()
    assert row == {"result": {"voice_id": saved["id"]}}


class Refused(Exception):
    """What a caller raises to end the transaction the refused insert left aborted."""


async def test_the_schemas_one_active_generation_index_is_a_refusal_not_an_error(
    db: Database,
) -> None:
    """Past the advisory lock (a second process, a raised limit), the partial unique index
    still keeps one active generation per user: the query answers None, and the
    transaction it ran in writes nothing."""
    user = await make_user(db)
    voice = await make_voice(db, user.id)

    async def create(conn: Connection) -> dict[str, Any] | None:
        return await task_q.create_generation_task(
            conn, user_id=user.id, voice_id=voice, text="Hello.", language="English", metadata={}
        )

    async with db.as_service() as conn:
        assert await create(conn) is not None
    with pytest.raises(Refused):
        async with db.as_service() as conn:
            assert await create(conn) is None
            raise Refused
    async with db.as_service() as conn:
        tasks = await (
            await conn.execute("select type from public.tasks where user_id = %s", (user.id,))
        ).fetchall()
        generations = await (
            await conn.execute("select text from public.generations where user_id = %s", (user.id,))
        ).fetchall()
    assert (tasks, generations) == ([{"type": "generate"}], [{"text": "Hello."}])
