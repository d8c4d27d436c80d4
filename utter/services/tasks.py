"""Tasks as users see them: progress, results, cancel and delete.

Unlike the original, reading a task changes nothing but its poll counter: work
is done by workers, not by whoever polls (spec §2.4 is replaced by the queue).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from utter.db import Database
from utter.db.queries import tasks as q
from utter.errors import ApiError
from utter.storage import Storage

log = logging.getLogger(__name__)


def _elapsed(row: dict[str, Any]) -> float:
    end: datetime = row["completed_at"] or datetime.now(UTC)
    start: datetime = row["created_at"]
    return round(max(0.0, (end - start).total_seconds()), 1)


async def task_view(row: dict[str, Any], storage: Storage, *, base_url: str) -> dict[str, Any]:
    view: dict[str, Any] = {
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
    }
    result = dict(row["result"]) if row["result"] else None
    if row["status"] == "completed" and result is not None:
        if row["type"] == "design_preview" and result.get("object_key"):
            try:
                result["audio_url"] = await storage.signed_download_url(
                    "references", result["object_key"], user_id=row["user_id"], base_url=base_url
                )
            except Exception:
                # As the spec: a URL that cannot be signed is simply omitted.
                log.exception("could not sign preview for task %s", row["id"])
        elif row["generation_id"] is not None:
            result["audio_url"] = f"/api/generations/{row['generation_id']}/audio"
    if result is not None:
        view["result"] = result
    return view


async def get_task(db: Database, *, user_id: UUID, task_id: UUID) -> dict[str, Any]:
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, task_id)
    if row is None:
        raise ApiError(404, "Task not found.")
    async with db.as_service() as conn:
        count = await q.increment_poll_count(conn, task_id, user_id)
    if count is not None:
        row["modal_poll_count"] = count
    return row


async def list_tasks(db: Database, *, user_id: UUID) -> list[dict[str, Any]]:
    async with db.as_user(user_id) as conn:
        return await q.list_recent(conn)


async def cancel_task(db: Database, *, user_id: UUID, task_id: UUID) -> dict[str, Any]:
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, task_id)
    if row is None:
        raise ApiError(404, "Task not found.")
    async with db.as_service() as conn:
        cancelled = await q.cancel(conn, task_id, user_id)
    if cancelled is None:
        async with db.as_user(user_id) as conn:
            now = await q.get(conn, task_id)
        status = now["status"] if now else row["status"]
        raise ApiError(400, f"Cannot cancel task with status: {status}")
    # The worker sees the cancellation at its next heartbeat and stops before its
    # next chunk; a job still waiting in the queue finds its task cancelled and exits.
    return {"cancelled": True, "task_id": task_id}


async def delete_task(
    db: Database, storage: Storage, *, user_id: UUID, task_id: UUID
) -> dict[str, Any]:
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, task_id)
    if row is None:
        raise ApiError(404, "Task not found.")
    async with db.as_service() as conn:
        # §9.1.4: deleting an active task used to leave its generation processing forever.
        await q.cancel(conn, task_id, user_id)
        await q.delete(conn, task_id, user_id)
    preview = (row["result"] or {}).get("object_key") if row["type"] == "design_preview" else None
    if preview:
        await storage.delete("references", preview)
    return {"ok": True}
