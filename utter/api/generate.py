"""POST /api/generate: queue speech in a saved voice."""

from __future__ import annotations

from fastapi import APIRouter

from utter.api.context import StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import Body, Text
from utter.services.generate import GenerationStarted, submit_generation

router = APIRouter(tags=["generation"])


class GenerateIn(Body):
    voice_id: Text = None
    text: Text = None
    language: Text = None


@router.post("/generate")
async def generate(
    body: GenerateIn, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> GenerationStarted:
    """Queue speech in a saved voice; poll GET /api/tasks/{task_id} for progress."""
    return await submit_generation(
        db,
        studio.queue,
        user_id=user.id,
        voice_id_raw=body.voice_id,
        text=body.text,
        language=body.language,
        rules=studio.generation_rules,
    )
