"""POST /api/transcriptions: speech to text for the clone form."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel

from utter.api.context import Studio, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep, SettingsDep
from utter.api.forms import UPLOAD_FORM_LIMITS, reject_unstorable
from utter.db import Database
from utter.services import usage
from utter.services.transcriptions import MAX_TRANSCRIPTION_BYTES, transcribe_upload
from utter.settings import Settings
from utter.transcription.base import Transcript

router = APIRouter(tags=["transcriptions"])


class TranscriptOut(BaseModel):
    text: str
    model: str
    language: str | None


@router.post("/transcriptions", form_limits=UPLOAD_FORM_LIMITS)
async def transcribe(
    user: CurrentUser,
    studio: StudioDep,
    db: DatabaseDep,
    settings: SettingsDep,
    audio: Annotated[UploadFile | None, File()] = None,
    language: Annotated[str | None, Form()] = None,
) -> TranscriptOut:
    """Speech to text for the clone form (multipart `audio`, `language?`)."""
    reject_unstorable(language)
    result = await transcribe_file(studio, db, settings, user.id, audio, language)
    return TranscriptOut(text=result.text, model=result.model, language=result.language)


async def transcribe_file(
    studio: Studio,
    db: Database,
    settings: Settings,
    user_id: UUID,
    upload: UploadFile | None,
    language: str | None,
) -> Transcript:
    """An uploaded file to text, as /api/transcriptions and /v1/audio/transcriptions both do:
    read to one byte past the limit (so an oversized one is refused), under the user's
    daily transcription limit."""
    return await transcribe_upload(
        db,
        studio.transcriber,
        studio.cpu,
        usage.UsageLimits.from_settings(settings),
        user_id=user_id,
        data=None if upload is None else await upload.read(MAX_TRANSCRIPTION_BYTES + 1),
        filename=upload_name(upload),
        language=language,
    )


def upload_name(upload: UploadFile | None) -> str:
    """The upload's own file name without any directories (the provider sees it)."""
    name = upload.filename if upload is not None else None
    return PurePath(name or "audio.wav").name or "audio.wav"
