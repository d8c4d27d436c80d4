"""POST /api/transcriptions: speech to text for the clone form."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel

from utter.api.context import StudioDep
from utter.api.deps import CurrentUser, DatabaseDep, SettingsDep
from utter.api.forms import UPLOAD_FORM_LIMITS, reject_unstorable
from utter.errors import Invalid
from utter.languages import AUTO
from utter.services import usage
from utter.transcription import TranscriptionDisabled

router = APIRouter(tags=["transcriptions"])

MAX_TRANSCRIPTION_BYTES = 50 * 1024 * 1024


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
    """Speech to text for the clone form (multipart `audio`, `language?`). The
    transcriber's refusals (off, a language it cannot read, unreadable audio, the
    provider failing) are domain errors that carry their own status."""
    if not studio.transcriber.enabled:
        raise TranscriptionDisabled()
    reject_unstorable(language)
    if audio is None:
        raise Invalid("Audio file is required")
    data = await audio.read(MAX_TRANSCRIPTION_BYTES + 1)
    if not data:
        raise Invalid("Audio file is required")
    if len(data) > MAX_TRANSCRIPTION_BYTES:
        raise Invalid("File too large (max 50MB)")
    filename = PurePath(audio.filename or "audio.wav").name or "audio.wav"
    await usage.check_transcription(db, user.id, usage.UsageLimits.from_settings(settings))
    result = await studio.transcriber.transcribe(data, filename, (language or "").strip() or AUTO)
    await usage.record_transcription(db, studio.cpu, user.id, result, data)
    return TranscriptOut(text=result.text, model=result.model, language=result.language)
