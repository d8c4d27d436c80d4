"""Generations: the history, audio downloads, delete and regenerate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import page_params, parse_id
from utter.api.models import Ok, Pagination
from utter.services import generations as service

router = APIRouter(tags=["generations"])


class GenerationOut(BaseModel):
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


class GenerationList(BaseModel):
    generations: list[GenerationOut]
    pagination: Pagination


class RegenerateOut(BaseModel):
    voice_id: UUID
    text: str
    language: str
    redirect_url: str


@router.get("/generations")
async def list_generations(
    user: CurrentUser,
    db: DatabaseDep,
    page: str | None = None,
    per_page: str | None = None,
    search: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
) -> GenerationList:
    page_no, size = page_params(page, per_page)
    out = await service.list_generations(
        db,
        user_id=user.id,
        page=page_no,
        per_page=size,
        search=(search or "").strip() or None,
        status=(status or "").strip() or None,
    )
    return GenerationList(**out)


@router.get("/generations/{generation_id}/audio", status_code=302, response_class=RedirectResponse)
async def generation_audio(
    generation_id: str,
    user: CurrentUser,
    db: DatabaseDep,
    studio: StudioDep,
    base_url: BaseUrl,
    format: Annotated[str, Query(description="wav (default), mp3 or opus")] = "wav",
    download: bool = False,
) -> RedirectResponse:
    """302 to a signed URL of the audio, transcoded to MP3 or Opus on request."""
    url = await service.audio_url(
        db,
        studio.storage,
        studio.cpu,
        user_id=user.id,
        generation_id=parse_id(generation_id, "Generation not found."),
        fmt=format.lower(),
        download=download,
        base_url=base_url,
    )
    return RedirectResponse(url, status_code=302)


@router.delete("/generations/{generation_id}")
async def delete_generation(
    generation_id: str, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> Ok:
    await service.delete_generation(
        db,
        studio.storage,
        user_id=user.id,
        generation_id=parse_id(generation_id, "Generation not found."),
    )
    return Ok()


@router.post("/generations/{generation_id}/regenerate")
async def regenerate(generation_id: str, user: CurrentUser, db: DatabaseDep) -> RegenerateOut:
    """The inputs of a generation, to prefill the Generate page."""
    out = await service.regenerate(
        db, user_id=user.id, generation_id=parse_id(generation_id, "Generation not found")
    )
    return RegenerateOut(**out)
