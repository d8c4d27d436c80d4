"""POST /api/generate: queue speech in a saved voice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BeforeValidator, Field

from utter.api.context import StudioDep
from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import Body, Text
from utter.services.generate import GenerationStarted, check_speed, submit_generation

router = APIRouter(tags=["generation"])


def _speed(value: Any) -> float | None:
    # The rule's own plain 400 for anything but a number in range (a string, true, 9),
    # instead of a validation error: checked before pydantic would coerce "1.5" or true.
    return None if value is None else check_speed(value)


class GenerateIn(Body):
    voice_id: Text = None
    text: Text = None
    language: Text = None
    speed: Annotated[
        float | None,
        BeforeValidator(_speed),
        Field(description="How fast to speak, 0.25 to 4.0 (default 1.0), pitch unchanged."),
    ] = None


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
        speed=1.0 if body.speed is None else body.speed,
    )
