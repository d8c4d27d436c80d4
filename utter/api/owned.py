"""Ownership as dependencies: a route that names a resource by id in its path takes the
caller's own copy of it, or answers 404 before the route runs.

An id that is not a UUID, one that does not exist and one that belongs to someone else
all get the same 404, so an id reveals nothing about other users.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import parse_id
from utter.services import voices
from utter.services.voices import Voice


async def owned_voice(voice_id: str, user: CurrentUser, db: DatabaseDep) -> Voice:
    """The voice at `{voice_id}` in the path, read under RLS as the caller."""
    vid = parse_id(voice_id, voices.VOICE_NOT_FOUND)
    return await voices.get_voice(db, user_id=user.id, voice_id=vid)


OwnedVoice = Annotated[Voice, Depends(owned_voice)]
