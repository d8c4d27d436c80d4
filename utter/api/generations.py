"""Generations: the history, audio downloads, delete and regenerate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from utter.api.context import BaseUrl, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import page_params, pagination
from utter.api.models import CURSOR_HELP, Ok, Pagination
from utter.api.owned import OwnedGeneration, OwnedGenerationToRegenerate
from utter.services import generations as service
from utter.services.generations import Generation, Regeneration

router = APIRouter(tags=["generations"])


class GenerationList(BaseModel):
    generations: list[Generation]
    pagination: Pagination
    # Pass as `cursor` for the page after this one; None when this page is the last.
    next_cursor: str | None = None


@router.get("/generations")
async def list_generations(
    user: CurrentUser,
    db: DatabaseDep,
    page: str | None = None,
    per_page: str | None = None,
    search: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query(description=CURSOR_HELP)] = None,
) -> GenerationList:
    page_no, size = page_params(page, per_page)
    found, total, next_cursor = await service.list_generations(
        db,
        user_id=user.id,
        page=page_no,
        per_page=size,
        search=(search or "").strip() or None,
        status=(status or "").strip() or None,
        cursor=(cursor or "").strip() or None,
    )
    return GenerationList(
        generations=found, pagination=pagination(page_no, size, total), next_cursor=next_cursor
    )


@router.get("/generations/{generation_id}/audio", status_code=302, response_class=RedirectResponse)
async def generation_audio(
    generation: OwnedGeneration,
    user: CurrentUser,
    studio: StudioDep,
    base_url: BaseUrl,
    format: Annotated[str, Query(description="wav (default), mp3 or opus")] = "wav",
    download: bool = False,
) -> RedirectResponse:
    """302 to a signed URL of the audio, transcoded to MP3 or Opus on request."""
    url = await service.audio_url(
        studio.storage,
        studio.cpu,
        generation,
        user_id=user.id,
        fmt=format.lower(),
        download=download,
        base_url=base_url,
    )
    return RedirectResponse(url, status_code=302)


@router.delete("/generations/{generation_id}")
async def delete_generation(
    generation: OwnedGeneration, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> Ok:
    await service.delete_generation(db, studio.storage, generation, user_id=user.id)
    return Ok()


@router.post("/generations/{generation_id}/regenerate")
async def regenerate(generation: OwnedGenerationToRegenerate) -> Regeneration:
    """The inputs of a generation, to prefill the Generate page."""
    return service.regenerate(generation)
