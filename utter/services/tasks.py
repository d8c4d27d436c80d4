"""Tasks as their owners see them: progress, results, cancel and delete.

Reading a task changes nothing (only the Modal engine's poll counter, see `read_task`):
queue workers do the work, never whoever polls, so a slow, absent or eager poller can
neither stall nor repeat it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, PrivateAttr

from utter.db import Connection, Database
from utter.db.queries import tasks as q
from utter.errors import Invalid, UtterError
from utter.storage import Storage

log = logging.getLogger(__name__)

Row = dict[str, Any]

# The bucket a generation's pieces are stored in (next to its finished clip).
PARTS_BUCKET = "generations"


class AudioPart(BaseModel):
    """One published piece of a generation in progress: `url` is signed, so a browser
    fetches it without headers."""

    index: int
    url: str
    duration_seconds: float


class Task(BaseModel):
    """A task as its owner sees it (the task dock, one task's progress).

    `result` is the only field with a default: one task's JSON leaves it out until there is
    a result (clients test for the key), so everything else is always set explicitly."""

    id: UUID
    type: str
    status: str
    result: dict[str, Any] | None = None
    error: str | None
    # Always null: kept so that clients written for the hosted engine's progress still parse.
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
    # The pieces of a generation published so far, in order (signed by `with_audio_url`);
    # empty for other tasks and once they are swept.
    audio_parts: list[AudioPart]
    # Where to listen to a generate task as it is made (GET /api/tasks/{id}/stream).
    stream_url: str | None
    # The stored pieces (index, key, duration): what signing and deletion act on.
    _parts: list[tuple[int, str, float]] = PrivateAttr(default_factory=list)

    @classmethod
    def from_row(cls, row: Row) -> Task:
        """The task as stored; its result has no `audio_url` yet (see `with_audio_url`)."""
        fields: dict[str, Any] = {
            "id": row["id"],
            "type": row["type"],
            "status": row["status"],
            "error": row["error"],
            "modal_status": None,
            "modal_elapsed_seconds": None,
            "modal_poll_count": row["modal_poll_count"],
            "chunks_done": row["chunks_done"],
            "chunks_total": row["chunks_total"],
            "elapsed_seconds": _elapsed(row),
            "created_at": row["created_at"],
            "completed_at": row["completed_at"],
            "generation_id": row["generation_id"],
            "voice_id": row["voice_id"],
            "metadata": row["metadata"],
            "audio_parts": [],
            "stream_url": f"/api/tasks/{row['id']}/stream" if row["type"] == "generate" else None,
        }
        if row["result"]:
            fields["result"] = dict(row["result"])
        task = cls(**fields)
        task._parts = [
            (int(p["index"]), p["key"], float(p.get("duration_seconds") or 0.0))
            for p in (row.get("audio_parts") or [])
            if isinstance(p, dict) and isinstance(p.get("key"), str) and "index" in p
        ]
        return task

    @property
    def part_keys(self) -> list[str]:
        return [key for _, key, _ in self._parts]

    @property
    def preview_key(self) -> str | None:
        """The stored clip of a design preview not yet saved as a voice."""
        if self.type != "design_preview" or not self.result:
            return None
        key = self.result.get("object_key")
        return key if isinstance(key, str) and key else None


def _elapsed(row: Row) -> float:
    end: datetime = row["completed_at"] or datetime.now(UTC)
    start: datetime = row["created_at"]
    return round(max(0.0, (end - start).total_seconds()), 1)


async def with_audio_url(task: Task, storage: Storage, *, user_id: UUID, base_url: str) -> Task:
    """The task with signed URLs of its published pieces, and with a link to its audio in
    `result` once it is completed: a signed URL of a design preview's clip, or the
    generation's audio route."""
    if task.part_keys:
        task = await _with_part_urls(task, storage, user_id=user_id, base_url=base_url)
    if task.status != "completed" or task.result is None:
        return task
    result = dict(task.result)
    if task.preview_key is not None:
        try:
            result["audio_url"] = await storage.signed_download_url(
                "references", task.preview_key, user_id=user_id, base_url=base_url
            )
        except UtterError as exc:
            # Storage refuses a key it will not sign (outside the owner's folder, malformed).
            # The task is still worth showing without its link, rather than failing the whole
            # dock; anything else is a bug and surfaces as one.
            log.warning("could not sign preview for task %s: %s", task.id, exc.message)
    elif task.generation_id is not None:
        result["audio_url"] = f"/api/generations/{task.generation_id}/audio"
    return task.model_copy(update={"result": result})


async def _with_part_urls(task: Task, storage: Storage, *, user_id: UUID, base_url: str) -> Task:
    parts: list[AudioPart] = []
    for index, key, duration in task._parts:
        try:
            url = await storage.signed_download_url(
                PARTS_BUCKET, key, user_id=user_id, base_url=base_url
            )
        except UtterError as exc:
            # As for previews: a key storage will not sign costs that piece, not the dock.
            log.warning("could not sign piece %d of task %s: %s", index, task.id, exc.message)
            continue
        parts.append(AudioPart(index=index, url=url, duration_seconds=duration))
    copy = task.model_copy(update={"audio_parts": parts})
    copy._parts = task._parts
    return copy


async def find_task(db: Database, *, user_id: UUID, task_id: UUID) -> Task | None:
    """The task, read under RLS as `user_id`: None when it is missing or someone else's."""
    async with db.as_user(user_id) as conn:
        return await find_task_in(conn, task_id)


async def find_task_in(conn: Connection, task_id: UUID) -> Task | None:
    """`find_task` in a transaction the caller opened as the task's would-be owner."""
    row = await q.get(conn, task_id)
    return None if row is None else Task.from_row(row)


async def read_task(
    db: Database,
    storage: Storage,
    task: Task,
    *,
    user_id: UUID,
    base_url: str,
    counts_polls: bool = False,
) -> Task:
    """One poll of the caller's task, answered with its audio link.

    A poll writes nothing: every open tab repeats it, and a write per read would cost each
    one a transaction and WAL. Only with `counts_polls` (the Modal engine, whose progress
    clients written for the hosted service follow by this count) is an active task's
    counter bumped."""
    if counts_polls and task.status in q.ACTIVE:
        async with db.as_service() as conn:
            count = await q.increment_poll_count(conn, task.id, user_id)
        if count is not None:
            task = task.model_copy(update={"modal_poll_count": count})
    return await with_audio_url(task, storage, user_id=user_id, base_url=base_url)


async def recent_tasks(conn: Connection) -> list[Task]:
    """The active tasks and those finished in the last 24 hours, newest first, of the
    user whose transaction `conn` is (RLS scopes it)."""
    return [Task.from_row(row) for row in await q.list_recent(conn)]


async def with_audio_urls(
    found: list[Task], storage: Storage, *, user_id: UUID, base_url: str
) -> list[Task]:
    """`with_audio_url` for each task (after the transaction: signing needs no database)."""
    return [
        await with_audio_url(task, storage, user_id=user_id, base_url=base_url) for task in found
    ]


async def cancel_task(db: Database, task: Task, *, user_id: UUID) -> None:
    """Stop the caller's pending or processing task; refused when it has already ended.

    The worker sees the cancellation at its next heartbeat and stops before its next chunk;
    a job still waiting in the queue finds its task cancelled and exits."""
    async with db.as_service() as conn:
        cancelled = await q.cancel(conn, task.id, user_id)
    if cancelled is None:
        async with db.as_user(user_id) as conn:
            now = await q.get(conn, task.id)
        status = now["status"] if now else task.status
        raise Invalid(f"Cannot cancel task with status: {status}")


async def delete_task(db: Database, storage: Storage, task: Task, *, user_id: UUID) -> None:
    """Forget the caller's task, cancelling it first: a deleted task that was still running
    would otherwise leave its generation processing forever."""
    async with db.as_service() as conn:
        await q.cancel(conn, task.id, user_id)
        parts = await q.delete(conn, task.id, user_id)
    if task.preview_key is not None:
        await storage.delete("references", task.preview_key)
    # The pieces as the deleted row held them (any published since `task` was read too).
    for key in {*task.part_keys, *(parts or [])}:
        if key.startswith(f"{user_id}/"):
            await storage.delete(PARTS_BUCKET, key)
