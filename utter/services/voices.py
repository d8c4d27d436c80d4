"""Voices: cloning from an upload (two-step or one-shot), the library, and deletion.

A cloned voice keeps two objects under `references/{user}/{voice}/`: the
original upload at `original.<its real extension>` and the normalised
reference (mono 24 kHz PCM16 WAV, silence trimmed) at `reference.wav`, the key
the spec names. A two-step upload first lands at `upload`, and finalize turns
it into those two objects or, on any failure, leaves nothing behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from utter.audio.errors import AudioError
from utter.audio.reference import PreparedReference, prepare_reference
from utter.audio.validate import ReferenceLimits
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import voices as q
from utter.errors import ApiError
from utter.storage import Storage
from utter.storage.base import ObjectNotFound, StorageError

log = logging.getLogger(__name__)

BUCKET = "references"


@dataclass(frozen=True)
class CloneRequest:
    name: str | None
    language: str | None
    transcript: str | None
    description: str | None = None


@dataclass(frozen=True)
class CloneRules:
    limits: ReferenceLimits
    languages: tuple[str, ...]


def check_clone_fields(req: CloneRequest, languages: tuple[str, ...]) -> tuple[str, str, str]:
    """The spec's checks, in its order, plus a language the engine really speaks."""
    if req.name is None or not 1 <= len(req.name) <= 100:
        raise ApiError(400, "Name must be 1-100 characters.")
    if req.language is None:
        raise ApiError(400, "Language is required.")
    if req.language not in languages:
        raise ApiError(400, f"Language {req.language} is not supported by this server.")
    if req.transcript is None:
        raise ApiError(400, "Transcript is required.")
    return req.name, req.language, req.transcript


def upload_key(user_id: UUID, voice_id: UUID) -> str:
    return f"{user_id}/{voice_id}/upload"


def reference_key(user_id: UUID, voice_id: UUID) -> str:
    return f"{user_id}/{voice_id}/reference.wav"


def voice_view(row: dict[str, Any]) -> dict[str, Any]:
    """A voice as the API shows it: the spec's list fields plus duration and report."""
    return {
        "id": row["id"],
        "name": row["name"],
        "reference_transcript": row["reference_transcript"],
        "language": row["language"],
        "source": row["source"],
        "description": row["description"],
        "created_at": row["created_at"],
        "duration_seconds": row.get("duration_seconds"),
        "report": row.get("reference_report"),
    }


def audio_error(exc: AudioError) -> ApiError:
    return ApiError(400, str(exc))


async def prepare(cpu: CpuPool, data: bytes, limits: ReferenceLimits) -> PreparedReference:
    """Decode, check, normalise and measure a recording in a CPU process."""
    try:
        return await cpu.run(prepare_reference, data, limits)
    except AudioError as exc:
        raise audio_error(exc) from None


async def store_voice(
    db: Database,
    storage: Storage,
    *,
    user_id: UUID,
    voice_id: UUID,
    fields: tuple[str, str, str],
    description: str | None,
    source: str,
    prepared: PreparedReference,
    original: bytes | None,
) -> dict[str, Any]:
    """Write the reference objects and the voice row; on failure remove what was written."""
    name, language, transcript = fields
    ref_key = reference_key(user_id, voice_id)
    orig_key = (
        f"{user_id}/{voice_id}/original.{prepared.original_format.name}"
        if original is not None
        else None
    )
    written: list[str] = []
    try:
        await storage.put(BUCKET, ref_key, prepared.reference.wav, "audio/wav", owner=user_id)
        written.append(ref_key)
        if orig_key is not None and original is not None:
            await storage.put(
                BUCKET, orig_key, original, prepared.original_format.content_type, owner=user_id
            )
            written.append(orig_key)
        async with db.as_service() as conn:
            row = await q.insert(
                conn,
                voice_id=voice_id,
                user_id=user_id,
                name=name,
                language=language,
                source=source,
                transcript=transcript,
                description=description,
                reference_object_key=ref_key,
                original_object_key=orig_key,
                duration_seconds=prepared.duration_seconds,
                report=prepared.report.model_dump(),
            )
    except Exception as exc:
        for key in written:
            await storage.delete(BUCKET, key)
        if isinstance(exc, ApiError):
            raise
        log.exception("storing voice %s failed", voice_id)
        raise ApiError(500, "Failed to create voice.") from None
    return row


async def clone_upload_url(
    storage: Storage, *, user_id: UUID, req: CloneRequest, rules: CloneRules, base_url: str
) -> dict[str, Any]:
    check_clone_fields(req, rules.languages)
    voice_id = uuid4()
    key = upload_key(user_id, voice_id)
    signed = await storage.signed_upload_url(BUCKET, key, user_id=user_id, base_url=base_url)
    return {
        "voice_id": voice_id,
        "upload_url": signed.url,
        "object_key": key,
        "max_bytes": signed.max_bytes,
        "expires_at": signed.expires_at,
    }


async def clone_finalize(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    voice_id: UUID,
    req: CloneRequest,
    rules: CloneRules,
) -> dict[str, Any]:
    fields = check_clone_fields(req, rules.languages)
    async with db.as_user(user_id) as conn:
        existing = await q.get(conn, voice_id)
    if existing is not None:
        # A retried finalize (the first answer was lost): the same voice, nothing redone.
        return {
            "id": existing["id"],
            "name": existing["name"],
            "report": existing["reference_report"],
        }
    key = upload_key(user_id, voice_id)
    try:
        await storage.confirm_upload(BUCKET, key, user_id=user_id)
        data = await storage.read(BUCKET, key)
    except ObjectNotFound:
        raise ApiError(400, "Audio file not uploaded.") from None
    except StorageError:
        await storage.delete(BUCKET, key)
        raise
    try:
        prepared = await prepare(cpu, data, rules.limits)
        row = await store_voice(
            db,
            storage,
            user_id=user_id,
            voice_id=voice_id,
            fields=fields,
            description=req.description,
            source="uploaded",
            prepared=prepared,
            original=data,
        )
    finally:
        # Success or failure, the staging upload goes: its bytes now live at the
        # voice's own keys, or the clone failed and nothing may remain.
        await storage.delete(BUCKET, key)
    return {"id": row["id"], "name": row["name"], "report": row["reference_report"]}


async def clone_from_bytes(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    data: bytes,
    req: CloneRequest,
    rules: CloneRules,
) -> dict[str, Any]:
    fields = check_clone_fields(req, rules.languages)
    prepared = await prepare(cpu, data, rules.limits)
    row = await store_voice(
        db,
        storage,
        user_id=user_id,
        voice_id=uuid4(),
        fields=fields,
        description=req.description,
        source="uploaded",
        prepared=prepared,
        original=data,
    )
    return {"id": row["id"], "name": row["name"], "report": row["reference_report"]}


async def delete_voice(db: Database, storage: Storage, *, user_id: UUID, voice_id: UUID) -> None:
    async with db.as_user(user_id) as conn:
        voice = await q.get(conn, voice_id)
    if voice is None:
        raise ApiError(404, "Voice not found.")
    for key in (voice["reference_object_key"], voice.get("original_object_key")):
        if key:
            await storage.delete(BUCKET, key)
    async with db.as_user(user_id) as conn:
        if not await q.delete(conn, voice_id, user_id):
            raise ApiError(404, "Voice not found.")
