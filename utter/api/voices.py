"""Voices: clone (two-step and one-shot), the library, preview, rename and delete."""

from __future__ import annotations

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
    reject_unstorable,
)
from utter.api.models import CURSOR_HELP, Ok, Pagination
from utter.api.owned import OwnedVoice
from utter.errors import Invalid
from utter.services import usage
from utter.services import voices as service
from utter.services.voices import ClonedVoice, UploadUrl, Voice

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

    def voice_uuid(self) -> UUID:
        if self.voice_id is None:
            raise Invalid("voice_id is required.")
        try:
            return UUID(self.voice_id)
        except ValueError:
            raise Invalid("Invalid voice_id") from None


class VoiceList(BaseModel):
    voices: list[Voice]
    pagination: Pagination
    # Pass as `cursor` for the page after this one; None when this page is the last.
    next_cursor: str | None = None


class VoicePatch(Body):
    # Any, not Text: a description that is not text is refused in words of its own.
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
) -> UploadUrl:
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
        voice_id=out.voice_id,
        bucket=service.BUCKET,
        object_key=out.object_key,
        expires_at=out.expires_at,
        limits=usage.UsageLimits.from_settings(settings),
    )
    return out


@router.post("/clone/finalize")
async def clone_finalize(
    body: FinalizeFields, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> ClonedVoice:
    """Step 3 of 3: check, normalise and measure the upload, and save the voice.
    Calling it again for the same voice_id returns the same voice."""
    return await service.clone_finalize(
        db,
        studio.storage,
        studio.cpu,
        user_id=user.id,
        voice_id=body.voice_uuid(),
        req=body.request(),
        rules=studio.clone_rules,
    )


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
) -> ClonedVoice:
    """Clone in one request: multipart `audio`, `name`, `transcript`, `language`,
    `description?`."""
    fields = CloneFields(
        name=name, transcript=transcript, language=language, description=description
    )
    # One byte over the limit is enough for the service to refuse it as too large.
    limit = studio.clone_rules.limits.max_bytes
    data = await audio.read(limit + 1) if audio is not None else None
    return await service.clone_from_bytes(
        db,
        studio.storage,
        studio.cpu,
        user_id=user.id,
        data=data,
        req=fields.request(),
        rules=studio.clone_rules,
    )


@router.get("/voices")
async def list_voices(
    user: CurrentUser,
    db: DatabaseDep,
    page: str | None = None,
    per_page: str | None = None,
    search: Annotated[str | None, Query()] = None,
    source: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query(description=CURSOR_HELP)] = None,
) -> VoiceList:
    page_no, size = page_params(page, per_page)
    voices, total, next_cursor = await service.list_voices(
        db,
        user_id=user.id,
        search=search,
        source=source,
        limit=size,
        offset=(page_no - 1) * size,
        cursor=(cursor or "").strip() or None,
    )
    return VoiceList(
        voices=voices,
        pagination=Pagination(**pagination(page_no, size, total)),
        next_cursor=next_cursor,
    )


@router.get("/voices/{voice_id}")
async def get_voice(voice: OwnedVoice) -> Voice:
    return voice


@router.patch("/voices/{voice_id}")
async def update_voice(
    voice: OwnedVoice, body: VoicePatch, user: CurrentUser, db: DatabaseDep
) -> Voice:
    """Rename a voice or change its description (`null` or blank clears it)."""
    reject_unstorable(body.name, body.description)
    return await service.update_voice(
        db,
        user_id=user.id,
        voice_id=voice.id,
        changes=body.model_dump(include=body.model_fields_set),
    )


@router.delete("/voices/{voice_id}")
async def delete_voice(
    voice: OwnedVoice, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> Ok:
    """Delete a voice and its audio; its generations keep their audio, with no voice."""
    await service.delete_voice(db, studio.storage, user_id=user.id, voice=voice)
    return Ok()


@router.get("/voices/{voice_id}/preview", status_code=302, response_class=RedirectResponse)
async def preview_voice(
    voice: OwnedVoice, user: CurrentUser, studio: StudioDep, base_url: BaseUrl
) -> RedirectResponse:
    """302 to a signed URL of the voice's reference audio."""
    url = await service.preview_url(studio.storage, user_id=user.id, voice=voice, base_url=base_url)
    return RedirectResponse(url, status_code=302)
