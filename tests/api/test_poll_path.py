"""The poll path (`GET /api/tasks/{id}`, `GET /api/tasks`): a poll writes nothing, the session
is checked in the same transaction as the read and still refuses a logged-out token at once,
with the same 401 and 404 answers as every other route."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support.api import sign_up
from tests.support.objects import make_task
from tests.support.postgres import create_database
from tests.support.server import app_settings, serve
from tests.support.users import make_user
from utter.auth import service as auth_service
from utter.db import Database
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate
from utter.services import tasks as service


async def _row_version(db: Database, task_id: uuid.UUID) -> dict[str, Any]:
    """What any UPDATE of the row changes: its tuple version, its counter and updated_at."""
    async with db.as_owner() as conn:
        cur = await conn.execute(
            "select xmin::text as xmin, ctid::text as ctid, modal_poll_count, updated_at"
            " from public.tasks where id = %s",
            (task_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def test_polling_a_task_writes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id)  # processing, on the app's (local) engine
    before = await _row_version(db, task_id)
    for _ in range(3):
        one = await client.get(f"/api/tasks/{task_id}", headers=user.headers)
        assert one.status_code == 200
        assert one.json()["modal_poll_count"] == 0  # still in the response
    listed = await client.get("/api/tasks", headers=user.headers)
    assert [t["id"] for t in listed.json()["tasks"]] == [str(task_id)]
    assert await _row_version(db, task_id) == before


async def test_the_modal_engine_still_counts_polls_of_an_active_task(
    app: FastAPI, db: Database
) -> None:
    owner = (await make_user(db)).id
    storage = app.state.studio.storage
    for status, counted in (("processing", [1, 2]), ("completed", [0, 0])):
        task_id = await make_task(db, owner, status=status)
        task = await service.find_task(db, user_id=owner, task_id=task_id)
        assert task is not None
        seen = [
            (
                await service.read_task(
                    db, storage, task, user_id=owner, base_url="http://t", counts_polls=True
                )
            ).modal_poll_count
            for _ in range(2)
        ]
        assert seen == counted, status


async def test_a_logged_out_token_is_refused_by_the_poll_routes_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id)
    paths = (f"/api/tasks/{task_id}", "/api/tasks/not-a-uuid", f"/api/tasks/{uuid.uuid4()}")
    assert (await client.get(paths[0], headers=user.headers)).status_code == 200
    logout = await client.post("/auth/v1/logout", params={"scope": "local"}, headers=user.headers)
    assert logout.status_code == 204
    for path in (*paths, "/api/tasks"):
        after = await client.get(path, headers=user.headers)
        assert (after.status_code, after.json()) == (401, {"detail": "Invalid or expired token"})


async def test_the_poll_routes_keep_their_401_and_404_answers(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner, other = await sign_up(client), await sign_up(client)
    task_id = await make_task(db, owner.id)
    for path in (f"/api/tasks/{task_id}", "/api/tasks"):
        missing = await client.get(path)
        assert (missing.status_code, missing.json()) == (
            401,
            {"detail": "Missing authorization header"},
        )
        for header in ("Bearer not-a-jwt", "Basic abc", f"Token {owner.access_token}"):
            bad = await client.get(path, headers={"Authorization": header})
            assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid or expired token"})
    for path in (f"/api/tasks/{task_id}", "/api/tasks/not-a-uuid", f"/api/tasks/{uuid.uuid4()}"):
        response = await client.get(path, headers=other.headers)
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found."})
    assert (await client.get("/api/tasks", headers=other.headers)).json() == {"tasks": []}


async def test_a_remembered_token_is_refused_once_it_expires(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polls skip re-verifying a token already seen (the same one comes with every poll);
    its expiry still counts."""
    user = await sign_up(client)
    task_id = await make_task(db, user.id)
    assert (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).status_code == 200
    expiry = jwt.decode(user.access_token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(auth_service.time, "time", lambda: expiry + 1.0)
    for path in (f"/api/tasks/{task_id}", "/api/usage"):
        after = await client.get(path, headers=user.headers)
        assert (after.status_code, after.json()) == (401, {"detail": "Invalid or expired token"})


@pytest.mark.slow
async def test_polls_survive_a_database_restart_and_fail_as_503_while_it_is_down(
    tmp_path: Path,
) -> None:
    """The poll path opens its transaction its own way (BEGIN sent with the session check):
    it too answers 503 while the database is down, and answers polls again once it is back."""
    own_postgres = EmbeddedPostgres(tmp_path / "pg")
    own_postgres.start()
    try:
        url = create_database(own_postgres.uri)
        migrate(url)
        settings = app_settings(
            tmp_path / "data", database_url=url, db_timeout_seconds=2.0, db_pool_min=2
        )
        with serve(lambda base: settings.model_copy(update={"public_url": base})) as base:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                user = await sign_up(client)
                async with Database(url) as own_db:
                    task_id = await make_task(own_db, user.id)
                poll = f"/api/tasks/{task_id}"
                for _ in range(3):  # more than one pooled connection in use
                    assert (await client.get(poll, headers=user.headers)).status_code == 200
                own_postgres.stop()
                for path in (poll, "/api/tasks"):
                    down = await client.get(path, headers=user.headers)
                    assert down.status_code == 503, down.text
                    assert down.json()["detail"].startswith("The database is not available")
                own_postgres.start()
                deadline = time.monotonic() + 30
                while (await client.get("/api/health")).status_code != 200:
                    assert time.monotonic() < deadline, "the API did not see the database return"
                    await asyncio.sleep(0.2)
                for _ in range(5):
                    response = await client.get(poll, headers=user.headers)
                    assert response.status_code == 200, response.text
    finally:
        own_postgres.stop()
