"""Objects owned by a user, written straight to the database as the server would
(service role), for tests that need one to exist rather than to be made by its route."""

from __future__ import annotations

import uuid
from typing import Any

from utter.db import Database


async def _insert(db: Database, sql: str, *params: Any) -> uuid.UUID:
    async with db.as_service() as conn:
        row = await (await conn.execute(sql.encode(), params)).fetchone()
    assert row is not None
    object_id: uuid.UUID = row["id"]
    return object_id


async def make_voice(db: Database, owner_id: uuid.UUID, name: str = "A voice") -> uuid.UUID:
    voice_id = uuid.uuid4()
    return await _insert(
        db,
        "insert into public.voices (id, user_id, name, source, language, reference_transcript,"
        " reference_object_key, duration_seconds) values (%s, %s, %s, 'uploaded', 'English',"
        " 'Hello there.', %s, 4.0) returning id",
        voice_id,
        owner_id,
        name,
        f"{owner_id}/{voice_id}/reference.wav",
    )


async def make_generation(
    db: Database, owner_id: uuid.UUID, voice_id: uuid.UUID | None = None, text: str = "Hello."
) -> uuid.UUID:
    generation_id = uuid.uuid4()
    return await _insert(
        db,
        "insert into public.generations (id, user_id, voice_id, text, status, audio_object_key,"
        " duration_seconds, completed_at) values (%s, %s, %s, %s, 'completed', %s, 1.5, now())"
        " returning id",
        generation_id,
        owner_id,
        voice_id,
        text,
        f"{owner_id}/{generation_id}.wav",
    )


async def make_task(
    db: Database, owner_id: uuid.UUID, *, status: str = "processing", kind: str = "design_preview"
) -> uuid.UUID:
    return await _insert(
        db,
        "insert into public.tasks (user_id, type, status, metadata) values"
        ' (%s, %s, %s, \'{"text": "hi", "instruct": "calm", "language": "English"}\')'
        " returning id",
        owner_id,
        kind,
        status,
    )
