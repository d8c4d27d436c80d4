"""Speech to text for an upload: the one path behind POST /api/transcriptions (the clone
form) and POST /v1/audio/transcriptions (OpenAI's dialect)."""

from __future__ import annotations

from uuid import UUID

from utter.cpu import CpuPool
from utter.db import Database
from utter.errors import Invalid
from utter.languages import AUTO
from utter.services import usage
from utter.transcription import Transcriber, TranscriptionDisabled
from utter.transcription.base import Transcript

MAX_TRANSCRIPTION_BYTES = 50 * 1024 * 1024


async def transcribe_upload(
    db: Database,
    transcriber: Transcriber,
    cpu: CpuPool,
    limits: usage.UsageLimits,
    *,
    user_id: UUID,
    data: bytes | None,
    filename: str,
    language: str | None,
) -> Transcript:
    """Transcribe `data` (at most MAX_TRANSCRIPTION_BYTES; routers read one byte more so
    a larger upload is refused here) under the user's daily transcription limit, and count
    what was heard. The transcriber's refusals (off, a language it cannot read, unreadable
    audio, the provider failing) are domain errors that carry their own status."""
    if not transcriber.enabled:
        raise TranscriptionDisabled()
    if not data:
        raise Invalid("Audio file is required")
    if len(data) > MAX_TRANSCRIPTION_BYTES:
        raise Invalid("File too large (max 50MB)")
    await usage.check_transcription(db, user_id, limits)
    result = await transcriber.transcribe(data, filename, (language or "").strip() or AUTO)
    await usage.record_transcription(db, cpu, user_id, result, data)
    return result
