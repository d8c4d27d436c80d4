"""Tasks over HTTP without a worker: the JSON of one task and of the dock, and OwnedTask,
the dependency every task route takes its task from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import sign_up
from tests.support.objects import make_task
from utter.api.errors import install_error_handlers
from utter.api.owned import OwnedTask
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.services.tasks import Task

TASK_KEYS = {
    "id",
    "type",
    "status",
    "error",
    "modal_status",
    "modal_elapsed_seconds",
    "modal_poll_count",
    "chunks_done",
    "chunks_total",
    "elapsed_seconds",
    "created_at",
    "completed_at",
    "generation_id",
    "voice_id",
    "metadata",
}


async def test_one_task_leaves_result_out_until_it_has_one_and_the_dock_shows_null(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id)

    one = (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).json()
    assert set(one) == TASK_KEYS  # no "result" key at all, not a null
    assert (one["status"], one["modal_status"], one["modal_elapsed_seconds"]) == (
        "processing",
        None,
        None,
    )
    assert one["modal_poll_count"] == 1  # reading a task counts the poll, and only that
    (listed,) = (await client.get("/api/tasks", headers=user.headers)).json()["tasks"]
    assert set(listed) == TASK_KEYS | {"result"} and listed["result"] is None

    key = f"{user.id}/preview_{task_id}.wav"
    async with db.as_service() as conn:
        assert await task_q.complete_design(conn, task_id=task_id, object_key=key)
    done = (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).json()
    assert set(done) == TASK_KEYS | {"result"}
    assert done["result"]["object_key"] == key
    assert done["result"]["audio_url"].startswith(
        f"http://testserver/storage/v1/object/sign/references/{key}?token="
    )
    assert done["modal_poll_count"] == 2


async def test_cancel_answers_cancel_out_and_refuses_a_finished_task(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id, status="pending")
    cancelled = await client.post(f"/api/tasks/{task_id}/cancel", headers=user.headers)
    assert cancelled.json() == {"cancelled": True, "task_id": str(task_id)}
    again = await client.post(f"/api/tasks/{task_id}/cancel", headers=user.headers)
    assert (again.status_code, again.json()) == (
        400,
        {"detail": "Cannot cancel task with status: cancelled"},
    )
    deleted = await client.delete(f"/api/tasks/{task_id}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    gone = await client.get(f"/api/tasks/{task_id}", headers=user.headers)
    assert (gone.status_code, gone.json()) == (404, {"detail": "Task not found."})


def test_a_task_without_a_result_leaves_it_unset() -> None:
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "id": "7d8c3a1e-1111-4111-8111-111111111111",
        "type": "generate",
        "status": "pending",
        "error": None,
        "modal_poll_count": 0,
        "chunks_done": 0,
        "chunks_total": None,
        "created_at": now,
        "completed_at": None,
        "generation_id": None,
        "voice_id": None,
        "metadata": {},
        "result": None,
    }
    assert set(Task.from_row(row).model_dump(exclude_unset=True)) == TASK_KEYS
    with_result = Task.from_row({**row, "result": {"object_key": "k"}})
    assert with_result.model_dump(exclude_unset=True)["result"] == {"object_key": "k"}


@pytest.fixture
async def probe(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's auth and database behind one route that only takes an OwnedTask."""
    probe = FastAPI()
    for name in ("settings", "db", "auth"):
        setattr(probe.state, name, getattr(app.state, name))
    install_error_handlers(probe)

    @probe.get("/probe/{task_id}")
    async def read(task: OwnedTask) -> dict[str, str]:
        return {"id": str(task.id), "type": task.type}

    probe.mount("/", app)  # sign-up goes through to the real app
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_owned_task_is_the_callers_own_or_a_404(
    probe: httpx.AsyncClient, db: Database
) -> None:
    owner, other = await sign_up(probe), await sign_up(probe)
    task_id = await make_task(db, owner.id)
    mine = await probe.get(f"/probe/{task_id}", headers=owner.headers)
    assert mine.json() == {"id": str(task_id), "type": "design_preview"}
    not_found = (404, {"detail": "Task not found."})
    for path in (f"/probe/{task_id}", "/probe/not-a-uuid"):
        response = await probe.get(path, headers=other.headers)
        assert (response.status_code, response.json()) == not_found
    anonymous = await probe.get(f"/probe/{task_id}")
    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {"detail": "Missing authorization header"},
    )
