"""The history of generations: listing, audio downloads (with transcoding), delete, regenerate."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

from utter.api.forms import pagination
from utter.audio.convert import OUTPUT_FORMATS, Compressed, transcode
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import generations as q
from utter.errors import ApiError
from utter.storage import Storage
from utter.storage.base import require_owned_key

BUCKET = "generations"


def generation_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "voice_id": row["voice_id"],
        "voice_name": row.get("voice_name"),
        "text": row["text"],
        "audio_path": f"/api/generations/{row['id']}/audio",
        "duration_seconds": row["duration_seconds"],
        "language": row["language"],
        "status": row["status"],
        "generation_time_seconds": row["generation_time_seconds"],
        "error_message": row["error_message"],
        "created_at": row["created_at"],
        "completed_at": row["completed_at"],
        "peaks": row["peaks"],
    }


async def list_generations(
    db: Database,
    *,
    user_id: UUID,
    page: int,
    per_page: int,
    search: str | None,
    status: str | None,
) -> dict[str, Any]:
    status = None if status in (None, "", "all") else status
    async with db.as_user(user_id) as conn:
        rows, total = await q.list_page(
            conn, search=search, status=status, limit=per_page, offset=(page - 1) * per_page
        )
    return {
        "generations": [generation_view(r) for r in rows],
        "pagination": pagination(page, per_page, total),
    }


def variant_key(wav_key: str, fmt: str) -> str:
    """Where the transcoded copy of a generation's WAV is cached."""
    return wav_key.rsplit(".", 1)[0] + "." + OUTPUT_FORMATS[fmt].extension


async def audio_url(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    generation_id: UUID,
    fmt: str,
    download: bool,
    base_url: str,
) -> str:
    if fmt not in OUTPUT_FORMATS:
        raise ApiError(400, "Format must be wav, mp3 or opus.")
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, generation_id)
    if row is None:
        raise ApiError(404, "Generation not found.")
    key = row["audio_object_key"]
    if not key:
        raise ApiError(404, "Generation audio not available.")
    # Signing checks this too, but a transcode reads the object before anything is signed.
    require_owned_key(key, user_id)
    if fmt != "wav":
        wav_key, key = key, variant_key(key, fmt)
        if await storage.stat(BUCKET, key) is None:
            # Transcoded on first request, then kept beside the WAV (and deleted with it).
            wav = await storage.read(BUCKET, wav_key)
            data = await cpu.run(transcode, wav, cast(Compressed, fmt))
            await storage.put(BUCKET, key, data, OUTPUT_FORMATS[fmt].content_type, owner=user_id)
    name = f"utter-{generation_id}.{OUTPUT_FORMATS[fmt].extension}" if download else None
    return await storage.signed_download_url(
        BUCKET, key, user_id=user_id, base_url=base_url, download_name=name
    )


async def delete_generation(
    db: Database, storage: Storage, *, user_id: UUID, generation_id: UUID
) -> None:
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, generation_id)
    if row is None:
        raise ApiError(404, "Generation not found.")
    key = row["audio_object_key"]
    if key and key.startswith(f"{user_id}/"):
        for k in (key, *(variant_key(key, f) for f in ("mp3", "opus"))):
            await storage.delete(BUCKET, k)
    async with db.as_user(user_id) as conn:
        if not await q.delete(conn, generation_id, user_id):
            raise ApiError(404, "Generation not found.")


async def regenerate(db: Database, *, user_id: UUID, generation_id: UUID) -> dict[str, Any]:
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, generation_id)
    if row is None:
        raise ApiError(404, "Generation not found")
    if row["voice_id"] is None:
        raise ApiError(400, "Generation has no voice_id.")
    return {
        "voice_id": row["voice_id"],
        "text": row["text"],
        "language": row["language"],
        "redirect_url": (
            f"/generate?voice={row['voice_id']}&text={quote(row['text'], safe='')}"
            f"&language={quote(row['language'], safe='')}"
        ),
    }
