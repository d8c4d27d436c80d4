"""GET /api/limits: the rules the forms check before sending, from the server that enforces them."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel

from utter.api.context import StudioDep
from utter.limits import TextLimits

router = APIRouter(tags=["limits"])


class ReferenceLimitsOut(BaseModel):
    min_seconds: float
    max_seconds: float
    max_bytes: int


class LimitsOut(BaseModel):
    voice_name_max: int
    voice_description_max: int
    generation_text_max: int
    design_text_max: int
    design_instruct_max: int
    display_name_max: int
    handle_min: int
    handle_max: int
    api_key_name_max: int
    reference: ReferenceLimitsOut


@router.get("/limits")
async def limits(studio: StudioDep) -> LimitsOut:
    """Length limits of every text field, and what a reference recording must be."""
    ref = studio.clone_rules.limits
    return LimitsOut(
        **asdict(TextLimits()),
        reference=ReferenceLimitsOut(
            min_seconds=ref.min_seconds, max_seconds=ref.max_seconds, max_bytes=ref.max_bytes
        ),
    )
