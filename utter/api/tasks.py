"""Tasks: GET /api/tasks (the task dock), one task's progress, cancel and delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import parse_id
from utter.api.models import Ok
from utter.services import tasks as service

router = APIRouter(tags=["tasks"])


class TaskOut(BaseModel):
    id: UUID
    type: str
    status: str
    result: dict[str, Any] | None = None
    error: str | None
    modal_status: str | None
    modal_elapsed_seconds: float | None
    modal_poll_count: int
    chunks_done: int
    chunks_total: int | None
    elapsed_seconds: float
    created_at: datetime
    completed_at: datetime | None
    generation_id: UUID | None
    voice_id: UUID | None
    metadata: dict[str, Any]


class TaskList(BaseModel):
    tasks: list[TaskOut]


class Cancelled(BaseModel):
    cancelled: bool
    task_id: UUID


@router.get("/tasks")
async def list_tasks(
    user: CurrentUser, db: DatabaseDep, studio: StudioDep, base_url: BaseUrl
) -> TaskList:
    """The caller's active tasks and those finished in the last 24 hours, newest first."""
    rows = await service.list_tasks(db, user_id=user.id)
    return TaskList(
        tasks=[
            TaskOut(**await service.task_view(r, studio.storage, base_url=base_url)) for r in rows
        ]
    )


# exclude_unset: `result` is absent (not null) until there is one, as in the spec.
@router.get("/tasks/{task_id}", response_model_exclude_unset=True)
async def get_task(
    task_id: str, user: CurrentUser, db: DatabaseDep, studio: StudioDep, base_url: BaseUrl
) -> TaskOut:
    """One task with its progress."""
    row = await service.get_task(db, user_id=user.id, task_id=parse_id(task_id, "Task not found."))
    return TaskOut(**await service.task_view(row, studio.storage, base_url=base_url))


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(task_id: str, user: CurrentUser, db: DatabaseDep) -> Cancelled:
    """Stop a pending or processing task; its worker stops before the next chunk."""
    out = await service.cancel_task(
        db, user_id=user.id, task_id=parse_id(task_id, "Task not found.")
    )
    return Cancelled(**out)


@router.delete("/tasks/{task_id}")
async def delete_task(task_id: str, user: CurrentUser, db: DatabaseDep, studio: StudioDep) -> Ok:
    """Forget a task (cancelling it first if it is still running)."""
    await service.delete_task(
        db, studio.storage, user_id=user.id, task_id=parse_id(task_id, "Task not found.")
    )
    return Ok()
