"""Tasks: GET /api/tasks (the task dock), one task's progress, its audio as a stream,
cancel and delete."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import Caller, CurrentUser, DatabaseDep
from utter.api.forms import parse_id
from utter.api.models import Ok
from utter.api.owned import TASK_NOT_FOUND, OwnedTask
from utter.errors import NotFound
from utter.services import tasks as service
from utter.services.audio_stream import open_task_stream, parts_listener
from utter.services.tasks import Task

router = APIRouter(tags=["tasks"])


class TaskList(BaseModel):
    tasks: list[Task]


class CancelOut(BaseModel):
    """A cancelled task (named apart from the engine's `Cancelled` exception)."""

    cancelled: bool
    task_id: UUID


@router.get("/tasks")
async def list_tasks(caller: Caller, studio: StudioDep, base_url: BaseUrl) -> TaskList:
    """The caller's active tasks and those finished in the last 24 hours, newest first."""
    async with caller.transaction() as conn:
        found = await service.recent_tasks(conn)
    user_id = caller.user.id
    tasks = await service.with_audio_urls(found, studio.storage, user_id=user_id, base_url=base_url)
    return TaskList(tasks=tasks)


# exclude_unset: `result` is absent (not null) until there is one; clients test for the key.
@router.get("/tasks/{task_id}", response_model_exclude_unset=True)
async def get_task(task_id: str, caller: Caller, studio: StudioDep, base_url: BaseUrl) -> Task:
    """One task with its progress."""
    # What OwnedTask does, with the session check and the read in one transaction. A
    # malformed id still waits for the session check, so a logged-out token gets its 401.
    try:
        wanted: UUID | None = UUID(task_id)
    except ValueError:
        wanted = None
    async with caller.transaction() as conn:
        task = None if wanted is None else await service.find_task_in(conn, wanted)
    if task is None:
        raise NotFound(TASK_NOT_FOUND)
    return await service.read_task(
        caller.db,
        studio.storage,
        task,
        user_id=caller.user.id,
        base_url=base_url,
        counts_polls=studio.engine.name == "modal",
    )


@router.get(
    "/tasks/{task_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The generation's audio as it is made (chunked), ending when "
            "the task ends.",
            "content": {
                media: {}
                for media in ("audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav")
            }
            | {"audio/pcm": {}},
        }
    },
)
async def stream_task(
    task_id: str,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    studio: StudioDep,
    audio_format: str = Query("mp3", alias="format"),
) -> StreamingResponse:
    """A generate task's audio, streamed as it is made: `format` is mp3 (default), opus,
    aac, flac, wav (a header of unknown length, then PCM16) or pcm (raw 16-bit 24 kHz)."""
    stream = await open_task_stream(
        db,
        studio.storage,
        user_id=user.id,
        task_id=parse_id(task_id, TASK_NOT_FOUND),
        audio_format=audio_format,
        listener=parts_listener(request.app.state),
    )
    return StreamingResponse(
        stream.chunks(),
        media_type=stream.media_type,
        # Proxies must pass each chunk on as it comes, and nothing may keep a copy.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(task: OwnedTask, user: CurrentUser, db: DatabaseDep) -> CancelOut:
    """Stop a pending or processing task; its worker stops before the next chunk."""
    await service.cancel_task(db, task, user_id=user.id)
    return CancelOut(cancelled=True, task_id=task.id)


@router.delete("/tasks/{task_id}")
async def delete_task(task: OwnedTask, user: CurrentUser, db: DatabaseDep, studio: StudioDep) -> Ok:
    """Forget a task (cancelling it first if it is still running)."""
    await service.delete_task(db, studio.storage, task, user_id=user.id)
    return Ok()
