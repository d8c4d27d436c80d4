"""Generations over HTTP without a worker: the history's JSON, audio links, regenerate and
delete, OwnedGeneration (the dependency those routes take their generation from), and the
layering that keeps the service free of HTTP."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import sign_up
from tests.support.objects import make_generation, make_voice
from utter.api.errors import install_error_handlers
from utter.api.owned import OwnedGeneration
from utter.db import Database

GENERATION_KEYS = {
    "id",
    "voice_id",
    "voice_name",
    "text",
    "audio_path",
    "duration_seconds",
    "language",
    "status",
    "generation_time_seconds",
    "error_message",
    "created_at",
    "completed_at",
    "peaks",
}
ROOT = Path(__file__).resolve().parents[2]


async def test_history_audio_regenerate_and_delete_answer_as_before(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    voice = await make_voice(db, user.id, name="Joe")
    gid = await make_generation(db, user.id, voice, text="Hello & goodbye.")

    listing = (await client.get("/api/generations", headers=user.headers)).json()
    assert listing["pagination"] == {"page": 1, "per_page": 20, "total": 1, "pages": 1}
    (item,) = listing["generations"]
    assert set(item) == GENERATION_KEYS
    assert (item["id"], item["voice_name"], item["audio_path"]) == (
        str(gid),
        "Joe",
        f"/api/generations/{gid}/audio",
    )

    audio = await client.get(item["audio_path"], headers=user.headers)
    assert audio.status_code == 302
    assert audio.headers["location"].startswith(
        f"http://testserver/storage/v1/object/sign/generations/{user.id}/{gid}.wav?token="
    )
    flac = await client.get(item["audio_path"], params={"format": "flac"}, headers=user.headers)
    assert (flac.status_code, flac.json()) == (400, {"detail": "Format must be wav, mp3 or opus."})

    again = await client.post(f"/api/generations/{gid}/regenerate", headers=user.headers)
    assert again.json() == {
        "voice_id": str(voice),
        "text": "Hello & goodbye.",
        "language": "Auto",
        "redirect_url": f"/generate?voice={voice}&text=Hello%20%26%20goodbye.&language=Auto",
    }

    deleted = await client.delete(f"/api/generations/{gid}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    for method, path, detail in (
        ("DELETE", f"/api/generations/{gid}", "Generation not found."),
        ("GET", f"/api/generations/{gid}/audio", "Generation not found."),
        ("POST", f"/api/generations/{gid}/regenerate", "Generation not found"),
    ):
        gone = await client.request(method, path, headers=user.headers)
        assert (gone.status_code, gone.json()) == (404, {"detail": detail}), path


async def test_a_failed_generation_without_a_voice_says_so(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    gid = await make_generation(db, user.id, None)
    async with db.as_service() as conn:
        await conn.execute(
            "update public.generations set status = 'failed', audio_object_key = null,"
            " completed_at = null where id = %s",
            (gid,),
        )
    audio = await client.get(f"/api/generations/{gid}/audio", headers=user.headers)
    assert (audio.status_code, audio.json()) == (
        404,
        {"detail": "Generation audio not available."},
    )
    again = await client.post(f"/api/generations/{gid}/regenerate", headers=user.headers)
    assert (again.status_code, again.json()) == (400, {"detail": "Generation has no voice_id."})


@pytest.fixture
async def probe(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's auth and database behind one route that only takes an OwnedGeneration."""
    probe = FastAPI()
    for name in ("settings", "db", "auth"):
        setattr(probe.state, name, getattr(app.state, name))
    install_error_handlers(probe)

    @probe.get("/probe/{generation_id}")
    async def read(generation: OwnedGeneration) -> dict[str, str | None]:
        return {"id": str(generation.id), "voice_name": generation.voice_name}

    probe.mount("/", app)  # sign-up goes through to the real app
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_owned_generation_is_the_callers_own_with_its_voice_or_a_404(
    probe: httpx.AsyncClient, db: Database
) -> None:
    owner, other = await sign_up(probe), await sign_up(probe)
    gid = await make_generation(db, owner.id, await make_voice(db, owner.id, name="Joe"))
    mine = await probe.get(f"/probe/{gid}", headers=owner.headers)
    assert mine.json() == {"id": str(gid), "voice_name": "Joe"}
    for path in (f"/probe/{gid}", "/probe/not-a-uuid"):
        response = await probe.get(path, headers=other.headers)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "Generation not found."},
        )


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    "module", ["generate", "generations", "tasks", "usage"], ids=lambda m: f"services/{m}"
)
def test_the_service_knows_nothing_of_http(module: str) -> None:
    imported = _imports(ROOT / "utter" / "services" / f"{module}.py")
    assert not {n for n in imported if n == "utter.api" or n.startswith("utter.api.")}
    assert "utter.errors.ApiError" not in imported  # domain errors only
