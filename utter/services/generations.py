"""The history of generations: listing, audio downloads (with transcoding), delete, regenerate."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, PrivateAttr

from utter.audio.convert import OUTPUT_FORMATS, Compressed, transcode
from utter.audio.peaks import unpack as unpack_peaks
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import generations as q
from utter.db.queries import tasks as task_queries
from utter.db.queries.paging import Cursor
from utter.errors import Invalid, NotFound
from utter.storage import Storage
from utter.storage.base import require_owned_key

BUCKET = "generations"
NOT_FOUND = "Generation not found."


class Generation(BaseModel):
    """A generation as its owner sees it (the history, and what its routes act on)."""

    id: UUID
    voice_id: UUID | None
    voice_name: str | None
    text: str
    audio_path: str
    duration_seconds: float | None
    language: str
    status: str
    generation_time_seconds: float | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None
    peaks: list[float] | None
    # Where its WAV is stored: what downloads and deletion act on; never shown to clients.
    _audio_key: str | None = PrivateAttr(default=None)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Generation:
        stored = row.get("peaks")
        generation = cls.model_validate(
            {
                **row,
                "audio_path": f"/api/generations/{row['id']}/audio",
                "peaks": None if stored is None else unpack_peaks(stored),
            }
        )
        generation._audio_key = row["audio_object_key"]
        return generation

    @property
    def audio_key(self) -> str | None:
        return self._audio_key


class Regeneration(BaseModel):
    """The inputs of a generation, to prefill the Generate page."""

    voice_id: UUID
    text: str
    language: str
    redirect_url: str


async def list_generations(
    db: Database,
    *,
    user_id: UUID,
    page: int,
    per_page: int,
    search: str | None,
    status: str | None,
    cursor: str | None = None,
) -> tuple[list[Generation], int, str | None]:
    """One page of the caller's generations, newest first, how many there are in all, and
    the cursor of the next page (None at the end). With a cursor the page follows it and
    `page` is not used (a cursor that is not one a page gave is Invalid)."""
    status = None if status in (None, "", "all") else status
    after = Cursor.decode(cursor) if cursor else None
    async with db.as_user(user_id) as conn:
        found = await q.list_page(
            conn,
            user_id=user_id,
            search=search,
            status=status,
            limit=per_page,
            offset=(page - 1) * per_page,
            cursor=after,
        )
    return [Generation.from_row(r) for r in found.rows], found.total, found.next_cursor


async def find_generation(db: Database, *, user_id: UUID, generation_id: UUID) -> Generation | None:
    """The generation, read under RLS as `user_id`: None when missing or someone else's."""
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, generation_id)
    return None if row is None else Generation.from_row(row)


def variant_key(wav_key: str, fmt: str) -> str:
    """Where the transcoded copy of a generation's WAV is cached."""
    return wav_key.rsplit(".", 1)[0] + "." + OUTPUT_FORMATS[fmt].extension


async def audio_url(
    storage: Storage,
    cpu: CpuPool,
    generation: Generation,
    *,
    user_id: UUID,
    fmt: str,
    download: bool,
    base_url: str,
) -> str:
    """A signed URL of the caller's generation's audio in `fmt` (wav, mp3 or opus)."""
    if fmt not in OUTPUT_FORMATS:
        raise Invalid("Format must be wav, mp3 or opus.")
    key = generation.audio_key
    if not key:
        raise NotFound("Generation audio not available.")
    # Signing checks this too, but a transcode reads the object before anything is signed.
    require_owned_key(key, user_id)
    if fmt != "wav":
        wav_key, key = key, variant_key(key, fmt)
        if await storage.stat(BUCKET, key) is None:
            # Transcoded on first request, then kept beside the WAV (and deleted with it).
            wav = await storage.read(BUCKET, wav_key)
            data = await cpu.run(transcode, wav, cast(Compressed, fmt))
            await storage.put(BUCKET, key, data, OUTPUT_FORMATS[fmt].content_type, owner=user_id)
    name = f"utter-{generation.id}.{OUTPUT_FORMATS[fmt].extension}" if download else None
    return await storage.signed_download_url(
        BUCKET, key, user_id=user_id, base_url=base_url, download_name=name
    )


async def delete_generation(
    db: Database, storage: Storage, generation: Generation, *, user_id: UUID
) -> None:
    """Delete the caller's generation and every stored copy of its audio, the pieces
    published while it was made included."""
    key = generation.audio_key
    if key and key.startswith(f"{user_id}/"):
        for k in (key, *(variant_key(key, f) for f in ("mp3", "opus"))):
            await storage.delete(BUCKET, k)
    async with db.as_service() as conn:
        parts = await task_queries.take_generation_parts(conn, generation.id, user_id)
    for k in parts:
        if k.startswith(f"{user_id}/"):
            await storage.delete(BUCKET, k)
    async with db.as_user(user_id) as conn:
        if not await q.delete(conn, generation.id, user_id):
            # Deleted by a concurrent request since it was read.
            raise NotFound(NOT_FOUND)


def regenerate(generation: Generation) -> Regeneration:
    """What the Generate page needs to make the generation again."""
    if generation.voice_id is None:
        raise Invalid("Generation has no voice_id.")
    return Regeneration(
        voice_id=generation.voice_id,
        text=generation.text,
        language=generation.language,
        redirect_url=(
            f"/generate?voice={generation.voice_id}&text={quote(generation.text, safe='')}"
            f"&language={quote(generation.language, safe='')}"
        ),
    )
