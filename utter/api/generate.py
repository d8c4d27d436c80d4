"""POST /api/generate: queue speech in a saved voice."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from utter.api.context import StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import Body, Text
from utter.services.generate import submit_generation

router = APIRouter(tags=["generation"])


class GenerateIn(Body):
    voice_id: Text = None
    text: Text = None
    language: Text = None


class GenerateOut(BaseModel):
    task_id: UUID
    status: str
    is_long_running: bool
    estimated_duration_minutes: float
    generation_id: UUID


@router.post("/generate")
async def generate(
    body: GenerateIn, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> GenerateOut:
    """Queue speech in a saved voice; poll GET /api/tasks/{task_id} for progress."""
    out = await submit_generation(
        db,
        studio.queue,
        user_id=user.id,
        voice_id_raw=body.voice_id,
        text=body.text,
        language=body.language,
        rules=studio.generation_rules,
    )
    return GenerateOut(**out)
