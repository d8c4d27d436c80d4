"""GET /api/languages: what the configured engine speaks, and whether transcription is on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from utter.api.context import StudioDep
from utter.languages import AUTO
from utter.transcription import (
    TranscriptionStatus,
    status_of,
)

router = APIRouter(tags=["languages"])


class LanguagesOut(BaseModel):
    languages: list[str]
    default: str
    provider: str
    transcription: TranscriptionStatus


@router.get("/languages")
async def languages(studio: StudioDep) -> LanguagesOut:
    """Exactly the languages the configured engine speaks, and transcription's status."""
    supported = list(studio.engine.languages)
    return LanguagesOut(
        languages=supported,
        default=AUTO if AUTO in supported else supported[0],
        provider=studio.engine.name,
        transcription=status_of(studio.transcriber),
    )
