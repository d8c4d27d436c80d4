"""Voices: clone (two-step and one-shot), the library, preview, rename and delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep, SettingsDep
from utter.api.forms import (
    UPLOAD_FORM_LIMITS,
    Body,
    Text,
    page_params,
    pagination,
    parse_id,
    reject_unstorable,
)
from utter.api.models import Ok, Pagination
from utter.audio.measure import ReferenceReport
from utter.db.queries import voices as q
from utter.errors import ApiError
from utter.services import usage
from utter.services import voices as service

router = APIRouter(tags=["voices"])


class CloneFields(Body):
    name: Text = None
    language: Text = None
    transcript: Text = None
    description: Text = None

    def request(self) -> service.CloneRequest:
        return service.CloneRequest(self.name, self.language, self.transcript, self.description)


class FinalizeFields(CloneFields):
    voice_id: Text = None


class UploadUrlOut(BaseModel):
    voice_id: UUID
    upload_url: str
    object_key: str
    max_bytes: int
    expires_at: datetime


class ClonedOut(BaseModel):
    id: UUID
    name: str
    report: ReferenceReport | None


class VoiceOut(BaseModel):
    id: UUID
    name: str
    reference_transcript: str | None
    language: str
    source: str
    description: str | None
    created_at: datetime
    duration_seconds: float | None
    report: ReferenceReport | None


class VoiceList(BaseModel):
    voices: list[VoiceOut]
    pagination: Pagination


class VoicePatch(Body):
    name: Any = None
    description: Any = None


@router.post("/clone/upload-url")
async def clone_upload_url(
    body: CloneFields,
    user: CurrentUser,
    db: DatabaseDep,
    studio: StudioDep,
    settings: SettingsDep,
    base_url: BaseUrl,
) -> UploadUrlOut:
    """Step 1 of 3: a signed URL to PUT the recording to (any accepted audio format).
    A user may hold MAX_PENDING_UPLOADS of them not yet finalized nor expired (429)."""
    out = await service.clone_upload_url(
        studio.storage,
        user_id=user.id,
        req=body.request(),
        rules=studio.clone_rules,
        base_url=base_url,
    )
    # Signing wrote nothing, so a refusal here leaves nothing behind.
    await usage.reserve_upload(
        db,
        user_id=user.id,
        voice_id=out["voice_id"],
        bucket=service.BUCKET,
        object_key=out["object_key"],
        expires_at=out["expires_at"],
        limits=usage.UsageLimits.from_settings(settings),
    )
    return UploadUrlOut(**out)


@router.post("/clone/finalize")
async def clone_finalize(
    body: FinalizeFields, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> ClonedOut:
    """Step 3 of 3: check, normalise and measure the upload, and save the voice.
    Calling it again for the same voice_id returns the same voice."""
    if body.voice_id is None:
        raise ApiError(400, "voice_id is required.")
    try:
        voice_id = UUID(body.voice_id)
    except ValueError:
        raise ApiError(400, "Invalid voice_id") from None
    out = await service.clone_finalize(
        db,
        studio.storage,
        studio.cpu,
        user_id=user.id,
        voice_id=voice_id,
        req=body.request(),
        rules=studio.clone_rules,
    )
    return ClonedOut(**out)


@router.post("/clone", form_limits=UPLOAD_FORM_LIMITS)
async def clone_one_shot(
    user: CurrentUser,
    db: DatabaseDep,
    studio: StudioDep,
    audio: Annotated[UploadFile | None, File()] = None,
    name: Annotated[str | None, Form()] = None,
    transcript: Annotated[str | None, Form()] = None,
    language: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
) -> ClonedOut:
    """Clone in one request: multipart `audio`, `name`, `transcript`, `language`,
    `description?`."""
    fields = CloneFields(
        name=name, transcript=transcript, language=language, description=description
    )
    service.check_clone_fields(fields.request(), studio.clone_rules.languages)
    if audio is None:
        raise ApiError(400, "Audio file is required.")
    limit = studio.clone_rules.limits.max_bytes
    data = await audio.read(limit + 1)
    if not data:
        raise ApiError(400, "Audio file is empty.")
    out = await service.clone_from_bytes(
        db,
        studio.storage,
        studio.cpu,
        user_id=user.id,
        data=data,
        req=fields.request(),
        rules=studio.clone_rules,
    )
    return ClonedOut(**out)


@router.get("/voices")
async def list_voices(
    user: CurrentUser,
    db: DatabaseDep,
    page: str | None = None,
    per_page: str | None = None,
    search: Annotated[str | None, Query()] = None,
    source: Annotated[str | None, Query()] = None,
) -> VoiceList:
    page_no, size = page_params(page, per_page)
    source = source if source in ("uploaded", "designed") else None
    search = (search or "").strip() or None
    async with db.as_user(user.id) as conn:
        rows, total = await q.list_page(
            conn, search=search, source=source, limit=size, offset=(page_no - 1) * size
        )
    return VoiceList(
        voices=[VoiceOut(**service.voice_view(r)) for r in rows],
        pagination=Pagination(**pagination(page_no, size, total)),
    )


@router.get("/voices/{voice_id}")
async def get_voice(voice_id: str, user: CurrentUser, db: DatabaseDep) -> VoiceOut:
    vid = parse_id(voice_id, "Voice not found.")
    async with db.as_user(user.id) as conn:
        row = await q.get(conn, vid)
    if row is None:
        raise ApiError(404, "Voice not found.")
    return VoiceOut(**service.voice_view(row))


@router.patch("/voices/{voice_id}")
async def update_voice(
    voice_id: str, body: VoicePatch, user: CurrentUser, db: DatabaseDep
) -> VoiceOut:
    """Rename a voice or change its description (`null` or blank clears it)."""
    vid = parse_id(voice_id, "Voice not found.")
    reject_unstorable(body.name, body.description)
    changes: dict[str, Any] = {}
    if "name" in body.model_fields_set:
        name = body.name.strip() if isinstance(body.name, str) else None
        if name is None or not 1 <= len(name) <= 100:
            raise ApiError(400, "Name must be 1-100 characters.")
        changes["name"] = name
    if "description" in body.model_fields_set:
        if body.description is not None and not isinstance(body.description, str):
            raise ApiError(400, "Description must be text or null.")
        description = (body.description or "").strip() or None
        if description is not None and len(description) > 1000:
            raise ApiError(400, "Description must be 1000 characters or less.")
        changes["description"] = description
    if not changes:
        raise ApiError(400, "No valid fields to update.")
    async with db.as_user(user.id) as conn:
        if await q.get(conn, vid) is None:
            raise ApiError(404, "Voice not found.")
    async with db.as_service() as conn:
        row = await q.update(conn, vid, user.id, changes)
    if row is None:
        raise ApiError(404, "Voice not found.")
    return VoiceOut(**service.voice_view(row))


@router.delete("/voices/{voice_id}")
async def delete_voice(voice_id: str, user: CurrentUser, db: DatabaseDep, studio: StudioDep) -> Ok:
    """Delete a voice and its audio; its generations keep their audio, with no voice."""
    vid = parse_id(voice_id, "Voice not found.")
    await service.delete_voice(db, studio.storage, user_id=user.id, voice_id=vid)
    return Ok()


@router.get("/voices/{voice_id}/preview", status_code=302, response_class=RedirectResponse)
async def preview_voice(
    voice_id: str, user: CurrentUser, db: DatabaseDep, studio: StudioDep, base_url: BaseUrl
) -> RedirectResponse:
    """302 to a signed URL of the voice's reference audio."""
    vid = parse_id(voice_id, "Voice not found.")
    async with db.as_user(user.id) as conn:
        row = await q.get(conn, vid)
    if row is None:
        raise ApiError(404, "Voice not found.")
    key = row["reference_object_key"]
    if not key:
        raise ApiError(404, "Voice has no reference audio.")
    # Signing refuses (403) a key outside the caller's folder.
    url = await studio.storage.signed_download_url(
        "references", key, user_id=user.id, base_url=base_url
    )
    return RedirectResponse(url, status_code=302)
