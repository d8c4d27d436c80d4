"""Ownership as dependencies: a route that names a resource by id in its path takes the
caller's own copy of it, or answers 404 (with the route's message) before the route runs.

An id that is not a UUID, one that does not exist and one that belongs to someone else
all get the same 404, so an id reveals nothing about other users.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from utter.api.deps import CurrentUser, DatabaseDep
from utter.api.forms import parse_id
from utter.errors import NotFound
from utter.services import generations, tasks, voices
from utter.services.generations import Generation
from utter.services.tasks import Task
from utter.services.voices import Voice


async def owned_voice(voice_id: str, user: CurrentUser, db: DatabaseDep) -> Voice:
    """The voice at `{voice_id}` in the path, read under RLS as the caller."""
    vid = parse_id(voice_id, voices.VOICE_NOT_FOUND)
    return await voices.get_voice(db, user_id=user.id, voice_id=vid)


OwnedVoice = Annotated[Voice, Depends(owned_voice)]


# Generations and tasks

TASK_NOT_FOUND = "Task not found."


def _owned_generation(not_found: str) -> Callable[..., Awaitable[Generation]]:
    async def owned(generation_id: str, user: CurrentUser, db: DatabaseDep) -> Generation:
        """The generation at `{generation_id}` in the path, read under RLS as the caller."""
        gid = parse_id(generation_id, not_found)
        found = await generations.find_generation(db, user_id=user.id, generation_id=gid)
        if found is None:
            raise NotFound(not_found)
        return found

    return owned


async def owned_task(task_id: str, user: CurrentUser, db: DatabaseDep) -> Task:
    """The task at `{task_id}` in the path, read under RLS as the caller."""
    found = await tasks.find_task(db, user_id=user.id, task_id=parse_id(task_id, TASK_NOT_FOUND))
    if found is None:
        raise NotFound(TASK_NOT_FOUND)
    return found


OwnedGeneration = Annotated[Generation, Depends(_owned_generation(generations.NOT_FOUND))]
# Regenerate has always said it without the full stop; clients may match the text.
OwnedGenerationToRegenerate = Annotated[
    Generation, Depends(_owned_generation("Generation not found"))
]
OwnedTask = Annotated[Task, Depends(owned_task)]
