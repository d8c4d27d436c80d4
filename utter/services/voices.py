"""Voices: cloning from an upload (two-step or one-shot), the library, rename and deletion.

A cloned voice keeps two objects under `references/{user}/{voice}/`: the
original upload at `original.<its real extension>` and the normalised
reference (mono 24 kHz PCM16 WAV, silence trimmed) at `reference.wav`, the key
the engines and existing clients expect. A two-step upload first lands at
`upload`, and finalize turns it into those two objects or, on any failure,
leaves nothing behind.

The models here are the resource's one shape: the routers return them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, PrivateAttr

from utter.audio.measure import ReferenceReport
from utter.audio.reference import PreparedReference, prepare_reference
from utter.audio.validate import ReferenceLimits
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.queries import voices as q
from utter.db.queries.paging import Cursor
from utter.engines.adapt import analyse_reference
from utter.errors import Invalid, NotFound
from utter.limits import VOICE_DESCRIPTION_MAX, VOICE_NAME_MAX
from utter.storage import Storage
from utter.storage.base import ObjectNotFound

BUCKET = "references"
SOURCES = ("uploaded", "designed")

VOICE_NOT_FOUND = "Voice not found."
NAME_RULE = f"Name must be 1-{VOICE_NAME_MAX} characters."
DESCRIPTION_RULE = f"Description must be {VOICE_DESCRIPTION_MAX} characters or less."


class Voice(BaseModel):
    """A voice in the caller's library: what it is, and how good its reference is."""

    id: UUID
    name: str
    reference_transcript: str | None
    language: str
    source: str
    description: str | None
    created_at: datetime
    duration_seconds: float | None
    report: ReferenceReport | None

    # Where its audio is stored: preview and delete need it, clients never see it.
    _reference_key: str | None = PrivateAttr(default=None)
    _original_key: str | None = PrivateAttr(default=None)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Voice:
        voice = cls(
            id=row["id"],
            name=row["name"],
            reference_transcript=row["reference_transcript"],
            language=row["language"],
            source=row["source"],
            description=row["description"],
            created_at=row["created_at"],
            duration_seconds=row.get("duration_seconds"),
            report=row.get("reference_report"),
        )
        voice._reference_key = row.get("reference_object_key")
        voice._original_key = row.get("original_object_key")
        return voice

    @property
    def reference_key(self) -> str | None:
        """The normalised reference in the `references` bucket (None: the voice has none)."""
        return self._reference_key or None

    @property
    def object_keys(self) -> tuple[str, ...]:
        """Every object of this voice in the `references` bucket."""
        return tuple(key for key in (self._reference_key, self._original_key) if key)


class ClonedVoice(BaseModel):
    """The answer to a clone: the new voice and how good its reference is."""

    id: UUID
    name: str
    report: ReferenceReport | None

    @classmethod
    def of(cls, voice: Voice) -> ClonedVoice:
        return cls(id=voice.id, name=voice.name, report=voice.report)


class UploadUrl(BaseModel):
    """Where step 2 of a two-step clone PUTs the recording, and until when."""

    voice_id: UUID
    upload_url: str
    object_key: str
    max_bytes: int
    expires_at: datetime


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
    # The engine keeps an analysis of each speaker with the voice (`local`): it is made
    # once, when the voice is saved, so no worker ever analyses the reference again.
    speaker_profiles: bool = False


def check_name(name: str | None) -> str:
    """The one rule for a voice's name, wherever one is given."""
    if name is None or not 1 <= len(name) <= VOICE_NAME_MAX:
        raise Invalid(NAME_RULE)
    return name


def check_description(description: str | None) -> str | None:
    """The one rule for a voice's description (None: no description)."""
    if description is not None and len(description) > VOICE_DESCRIPTION_MAX:
        raise Invalid(DESCRIPTION_RULE)
    return description


def check_clone_fields(req: CloneRequest, languages: tuple[str, ...]) -> tuple[str, str, str]:
    """Name, language, transcript, in the order existing clients see the refusals, then a
    language the engine really speaks and the description's length."""
    name = check_name(req.name)
    if req.language is None:
        raise Invalid("Language is required.")
    if req.language not in languages:
        raise Invalid(f"Language {req.language} is not supported by this server.")
    if req.transcript is None:
        raise Invalid("Transcript is required.")
    check_description(req.description)
    return name, req.language, req.transcript


def upload_key(user_id: UUID, voice_id: UUID) -> str:
    return f"{user_id}/{voice_id}/upload"


def reference_key(user_id: UUID, voice_id: UUID) -> str:
    return f"{user_id}/{voice_id}/reference.wav"


async def prepare(cpu: CpuPool, data: bytes, limits: ReferenceLimits) -> PreparedReference:
    """Decode, check, normalise and measure a recording in a CPU process (a refused
    recording raises AudioError, which is Invalid)."""
    return await cpu.run(prepare_reference, data, limits)


async def analyse_speaker(
    cpu: CpuPool, rules: CloneRules, prepared: PreparedReference, transcript: str
) -> dict[str, Any] | None:
    """The engine's analysis of the reference's speaker, made in a CPU process (None when
    the engine keeps none)."""
    if not rules.speaker_profiles:
        return None
    ref = prepared.reference
    return await cpu.run(analyse_reference, ref.samples, ref.sample_rate, transcript)


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
    speaker_profile: dict[str, Any] | None = None,
) -> Voice:
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
                speaker_profile=speaker_profile,
            )
    except BaseException:
        # Whatever failed (storage, the database, a cancelled request), no object may
        # outlive the voice it was for; the error itself goes on unchanged.
        for key in written:
            await storage.delete(BUCKET, key)
        raise
    return Voice.from_row(row)


async def clone_upload_url(
    storage: Storage, *, user_id: UUID, req: CloneRequest, rules: CloneRules, base_url: str
) -> UploadUrl:
    check_clone_fields(req, rules.languages)
    voice_id = uuid4()
    key = upload_key(user_id, voice_id)
    signed = await storage.signed_upload_url(BUCKET, key, user_id=user_id, base_url=base_url)
    return UploadUrl(
        voice_id=voice_id,
        upload_url=signed.url,
        object_key=key,
        max_bytes=signed.max_bytes,
        expires_at=signed.expires_at,
    )


async def clone_finalize(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    voice_id: UUID,
    req: CloneRequest,
    rules: CloneRules,
) -> ClonedVoice:
    fields = check_clone_fields(req, rules.languages)
    async with db.as_user(user_id) as conn:
        existing = await q.get(conn, voice_id)
    if existing is not None:
        # A retried finalize (the first answer was lost): the same voice, nothing redone.
        return ClonedVoice.of(Voice.from_row(existing))
    key = upload_key(user_id, voice_id)
    try:
        try:
            await storage.confirm_upload(BUCKET, key, user_id=user_id)
            data = await storage.read(BUCKET, key)
        except ObjectNotFound:
            raise Invalid("Audio file not uploaded.") from None
        prepared = await prepare(cpu, data, rules.limits)
        profile = await analyse_speaker(cpu, rules, prepared, fields[2])
        voice = await store_voice(
            db,
            storage,
            user_id=user_id,
            voice_id=voice_id,
            fields=fields,
            description=req.description,
            source="uploaded",
            prepared=prepared,
            original=data,
            speaker_profile=profile,
        )
    finally:
        # Success or failure, the staging upload goes: its bytes now live at the
        # voice's own keys, or the clone failed and nothing may remain.
        await storage.delete(BUCKET, key)
    return ClonedVoice.of(voice)


async def clone_from_bytes(
    db: Database,
    storage: Storage,
    cpu: CpuPool,
    *,
    user_id: UUID,
    data: bytes | None,
    req: CloneRequest,
    rules: CloneRules,
) -> ClonedVoice:
    """The one-shot clone; `data` is None when no file came with the form."""
    fields = check_clone_fields(req, rules.languages)
    if data is None:
        raise Invalid("Audio file is required.")
    if not data:
        raise Invalid("Audio file is empty.")
    prepared = await prepare(cpu, data, rules.limits)
    profile = await analyse_speaker(cpu, rules, prepared, fields[2])
    voice = await store_voice(
        db,
        storage,
        user_id=user_id,
        voice_id=uuid4(),
        fields=fields,
        description=req.description,
        source="uploaded",
        prepared=prepared,
        original=data,
        speaker_profile=profile,
    )
    return ClonedVoice.of(voice)


async def list_voices(
    db: Database,
    *,
    user_id: UUID,
    search: str | None,
    source: str | None,
    limit: int,
    offset: int,
    cursor: str | None = None,
) -> tuple[list[Voice], int, str | None]:
    """One page of the caller's voices, newest first, how many there are in all, and the
    cursor of the next page (None at the end). A blank search and a source that is not one
    of SOURCES are no filter at all; with a cursor the page follows it and `offset` is not
    used (a cursor that is not one a page gave is Invalid)."""
    after = Cursor.decode(cursor) if cursor else None
    async with db.as_user(user_id) as conn:
        page = await q.list_page(
            conn,
            user_id=user_id,
            search=(search or "").strip() or None,
            source=source if source in SOURCES else None,
            limit=limit,
            offset=offset,
            cursor=after,
        )
    return [Voice.from_row(row) for row in page.rows], page.total, page.next_cursor


async def get_voice(db: Database, *, user_id: UUID, voice_id: UUID) -> Voice:
    """The caller's voice, read under RLS: anyone else's is as missing as one that never was."""
    async with db.as_user(user_id) as conn:
        row = await q.get(conn, voice_id)
    if row is None:
        raise NotFound(VOICE_NOT_FOUND)
    return Voice.from_row(row)


def voice_changes(changes: Mapping[str, object]) -> dict[str, str | None]:
    """The columns a rename sets, from the fields the client sent as it sent them: a name
    must be text within the name rule (trimmed); a description text or null, where blank or
    null clears it. Other fields are not the client's to change."""
    values: dict[str, str | None] = {}
    if "name" in changes:
        name = changes["name"]
        values["name"] = check_name(name.strip() if isinstance(name, str) else None)
    if "description" in changes:
        description = changes["description"]
        if description is not None and not isinstance(description, str):
            raise Invalid("Description must be text or null.")
        values["description"] = check_description((description or "").strip() or None)
    if not values:
        raise Invalid("No valid fields to update.")
    return values


async def update_voice(
    db: Database, *, user_id: UUID, voice_id: UUID, changes: Mapping[str, object]
) -> Voice:
    """Rename a voice or change its description (see voice_changes)."""
    values = voice_changes(changes)
    async with db.as_service() as conn:
        row = await q.update(conn, voice_id, user_id, values)
    if row is None:
        # Deleted since the caller's read.
        raise NotFound(VOICE_NOT_FOUND)
    return Voice.from_row(row)


async def preview_url(storage: Storage, *, user_id: UUID, voice: Voice, base_url: str) -> str:
    """A signed URL of the voice's reference audio (signing refuses a key outside the
    caller's own folder)."""
    if voice.reference_key is None:
        raise NotFound("Voice has no reference audio.")
    return await storage.signed_download_url(
        BUCKET, voice.reference_key, user_id=user_id, base_url=base_url
    )


async def delete_voice(db: Database, storage: Storage, *, user_id: UUID, voice: Voice) -> None:
    """Delete the voice's objects, then the voice; its generations keep their audio."""
    for key in voice.object_keys:
        await storage.delete(BUCKET, key)
    async with db.as_user(user_id) as conn:
        if not await q.delete(conn, voice.id, user_id):
            raise NotFound(VOICE_NOT_FOUND)
