"""Saving a designed voice: from a finished preview task (preferred) or an uploaded preview.

From a task, nothing crosses the network twice: the preview the worker stored
becomes the voice's reference (normalised and measured like any clone) and the
preview object is removed, so previews never pile up (§9.1.11). The upload
path keeps the spec's multipart form, with the bucket's byte limit instead of
the original's 1 MB, which a 500-character preview could exceed (§9.1.8).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

from utter.audio.validate import ReferenceLimits
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.errors import ApiError
from utter.services.voices import CloneRules, prepare, store_voice
from utter.storage import Storage
from utter.storage.base import ObjectNotFound

# A preview of a short sentence can be under the 3 s a clone needs; it is still a
# good reference, made by the engine itself in a quiet room.
DESIGN_MIN_SECONDS = 1.0
ALREADY_SAVED = "This preview was already saved as a voice."
NOT_FINISHED = "The design preview is not finished (or has expired)."


def _design_limits(rules: CloneRules) -> ReferenceLimits:
    return replace(rules.limits, min_seconds=min(rules.limits.min_seconds, DESIGN_MIN_SECONDS))


def _check_name(name: str | None) -> str:
    if name is None or not 1 <= len(name) <= 100:
        raise ApiError(400, "Name must be 1-100 characters.")
    return name


def _voice_response(row: dict[str, Any], preview_url: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "language": row["language"],
        "source": row["source"],
        "preview_url": preview_url,
        "report": row["reference_report"],
    }


async def save_from_task(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    task_id_raw: str | None,
    name: str | None,
    rules: CloneRules,
    base_url: str,
) -> dict[str, Any]:
    name = _check_name(name)
    try:
        task_id = UUID(task_id_raw or "")
    except ValueError:
        raise ApiError(400, "task_id is required.") from None
    async with db.as_user(user_id) as conn:
        task = await task_q.get(conn, task_id)
    if task is None or task["type"] != "design_preview":
        raise ApiError(404, "Task not found.")
    result = task["result"] or {}
    if result.get("voice_id"):
        raise ApiError(409, ALREADY_SAVED)
    if task["status"] != "completed" or not result.get("object_key"):
        raise ApiError(400, NOT_FINISHED)
    meta = task["metadata"]
    voice_id = uuid4()
    # One guarded write claims the preview, so concurrent saves make exactly one voice.
    async with db.as_service() as conn:
        claimed = await task_q.claim_preview_for_saving(
            conn, task_id=task_id, user_id=user_id, voice_id=voice_id
        )
    if claimed is None:
        async with db.as_user(user_id) as conn:
            now = await task_q.get(conn, task_id)
        if now is not None and (now["result"] or {}).get("voice_id"):
            raise ApiError(409, ALREADY_SAVED)
        raise ApiError(400, NOT_FINISHED)
    preview_key: str = claimed["result"]["object_key"]
    try:
        try:
            data = await storage.read("references", preview_key)
        except ObjectNotFound:
            raise ApiError(400, "The design preview has expired. Generate it again.") from None
        prepared = await prepare(cpu, data, _design_limits(rules))
        row = await store_voice(
            db,
            storage,
            user_id=user_id,
            voice_id=voice_id,
            fields=(name, meta["language"], meta["text"]),
            description=meta["instruct"],
            source="designed",
            prepared=prepared,
            original=None,
        )
    except BaseException:
        # Nothing was saved: free the claim so the user can try again.
        async with db.as_service() as conn:
            await task_q.release_preview_saving(conn, task_id=task_id, voice_id=voice_id)
        raise
    async with db.as_service() as conn:
        await task_q.finish_preview_saving(conn, task_id=task_id, voice_id=voice_id)
    await storage.delete("references", preview_key)
    url = await storage.signed_download_url(
        "references", row["reference_object_key"], user_id=user_id, base_url=base_url
    )
    return _voice_response(row, url)


async def save_from_upload(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    name: str | None,
    text: str | None,
    language: str | None,
    instruct: str | None,
    audio: bytes | None,
    rules: CloneRules,
    base_url: str,
) -> dict[str, Any]:
    name = _check_name(name)
    if text is None:
        raise ApiError(400, "Preview text is required.")
    if language is None:
        raise ApiError(400, "Language is required.")
    if instruct is None:
        raise ApiError(400, "Voice description is required.")
    if audio is None:
        raise ApiError(400, "Audio file is required.")
    if not audio:
        raise ApiError(400, "Audio file is empty.")
    if language not in rules.languages:
        raise ApiError(400, f"Language {language} is not supported by this server.")
    prepared = await prepare(cpu, audio, _design_limits(rules))
    row = await store_voice(
        db,
        storage,
        user_id=user_id,
        voice_id=uuid4(),
        fields=(name, language, text),
        description=instruct,
        source="designed",
        prepared=prepared,
        original=None,
    )
    url = await storage.signed_download_url(
        "references", row["reference_object_key"], user_id=user_id, base_url=base_url
    )
    return _voice_response(row, url)
