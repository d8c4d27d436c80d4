"""The account: GET /api/me, PATCH /api/profile and GET /api/usage."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from utter.api.deps import CurrentUser, DatabaseDep, OptionalUser, SettingsDep
from utter.errors import Invalid
from utter.services import profiles
from utter.services.usage import UsageLimits

router = APIRouter(tags=["account"])


class Profile(BaseModel):
    id: UUID
    handle: str | None
    display_name: str | None
    avatar_url: str | None
    subscription_tier: str
    credits_remaining: int
    created_at: datetime
    updated_at: datetime


class MeUser(BaseModel):
    id: UUID


class Me(BaseModel):
    signed_in: bool
    user: MeUser | None
    profile: Profile | None


class ProfileEnvelope(BaseModel):
    profile: Profile


class ProfileUpdate(BaseModel):
    """Only these keys are read; null or blank clears a field, an absent key keeps it."""

    handle: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None


class CharacterUsage(BaseModel):
    used: int
    limit: int | None  # null: no limit


class SecondsUsage(BaseModel):
    used: float
    limit: float | None  # null: no limit


class DailyUsage(BaseModel):
    """Today's use against the daily limits; a day is the UTC calendar day."""

    day: date
    resets_at: datetime
    characters: CharacterUsage
    transcription_seconds: SecondsUsage


class Usage(BaseModel):
    voices: int
    generations: int
    generated_seconds: float
    daily: DailyUsage


@router.get("/me")
async def me(user: OptionalUser, db: DatabaseDep) -> Me:
    """Who is signed in. No token, or one that is not valid: `signed_in: false` (200)."""
    if user is None:
        return Me(signed_in=False, user=None, profile=None)
    profile = await profiles.load_profile(db, user.id)
    return Me(signed_in=True, user=MeUser(id=user.id), profile=Profile(**profile))


@router.patch(
    "/profile",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ProfileUpdate.model_json_schema()}},
        }
    },
)
async def update_profile(request: Request, user: CurrentUser, db: DatabaseDep) -> ProfileEnvelope:
    # Parsed by hand: a null, non-string or blank value each mean something different.
    body: Any
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise Invalid("Invalid JSON body") from exc
    changes = profiles.parse_profile_update(body)
    profile = await profiles.update_profile(db, user.id, changes)
    return ProfileEnvelope(profile=Profile(**profile))


@router.get("/usage")
async def usage(user: CurrentUser, db: DatabaseDep, settings: SettingsDep) -> Usage:
    """Counts for the account page: voices, generations, seconds of audio generated, and
    today's characters and transcription seconds against the daily limits (null: none)."""
    return Usage(**await profiles.usage(db, user.id, UsageLimits.from_settings(settings)))
