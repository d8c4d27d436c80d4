"""OwnedGeneration and OwnedTask, the dependencies every generation and task route takes its
object from, proven on probe routes: the caller's own object, or the route's 404 for
another user's, a missing one and a malformed id alike; no token is still a 401."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import sign_up
from tests.support.objects import make_generation, make_task, make_voice
from utter.api.errors import install_error_handlers
from utter.api.owned import OwnedGeneration, OwnedTask
from utter.db import Database


@pytest.fixture
async def probe(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's auth and database behind routes that only take an owned object."""
    probe = FastAPI()
    for name in ("settings", "db", "auth"):
        setattr(probe.state, name, getattr(app.state, name))
    install_error_handlers(probe)

    @probe.get("/probe/generations/{generation_id}")
    async def generation(generation: OwnedGeneration) -> dict[str, str | None]:
        return {"id": str(generation.id), "voice_name": generation.voice_name}

    @probe.get("/probe/tasks/{task_id}")
    async def task(task: OwnedTask) -> dict[str, str]:
        return {"id": str(task.id), "type": task.type}

    probe.mount("/", app)  # sign-up goes through to the real app
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_owned_generation_is_the_callers_own_with_its_voice_or_a_404(
    probe: httpx.AsyncClient, db: Database
) -> None:
    owner, other = await sign_up(probe), await sign_up(probe)
    gid = await make_generation(db, owner.id, await make_voice(db, owner.id, name="Joe"))
    mine = await probe.get(f"/probe/generations/{gid}", headers=owner.headers)
    assert mine.json() == {"id": str(gid), "voice_name": "Joe"}
    for path in (f"/probe/generations/{gid}", "/probe/generations/not-a-uuid"):
        response = await probe.get(path, headers=other.headers)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "Generation not found."},
        )


async def test_owned_task_is_the_callers_own_or_a_404(
    probe: httpx.AsyncClient, db: Database
) -> None:
    owner, other = await sign_up(probe), await sign_up(probe)
    task_id = await make_task(db, owner.id)
    mine = await probe.get(f"/probe/tasks/{task_id}", headers=owner.headers)
    assert mine.json() == {"id": str(task_id), "type": "design_preview"}
    for path in (f"/probe/tasks/{task_id}", "/probe/tasks/not-a-uuid"):
        response = await probe.get(path, headers=other.headers)
        assert (response.status_code, response.json()) == (404, {"detail": "Task not found."})
    anonymous = await probe.get(f"/probe/tasks/{task_id}")
    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {"detail": "Missing authorization header"},
    )
