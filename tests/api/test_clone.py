"""Cloning over HTTP: every accepted format through both flows, every rejection leaving
nothing behind, and an idempotent finalize."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from tests.support import audio
from tests.support.api import ApiUser, sign_up
from utter.db import Database
from utter.limits import VOICE_DESCRIPTION_MAX

FORMATS = ["wav", "mp3", "m4a", "aac", "ogg", "webm", "flac"]
FIELDS = {"name": "My voice", "language": "English", "transcript": audio.SENTENCES[0]}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def clip() -> audio.Clip:
    return audio.speech(" ".join(audio.SENTENCES[:2]))


def storage_dir(app: FastAPI) -> Path:
    root: Path = app.state.settings.storage_root
    return root


async def owned_state(app: FastAPI, db: Database, user: ApiUser) -> dict[str, Any]:
    """Everything the user owns: voice rows, catalogue rows, files on disk."""
    async with db.as_service() as conn:
        voices = await (
            await conn.execute("select id from public.voices where user_id = %s", (user.id,))
        ).fetchall()
        objects = await (
            await conn.execute(
                "select bucket_id || '/' || name as path from storage.objects"
                " where name like %s order by 1",
                (f"{user.id}/%",),
            )
        ).fetchall()
    files = sorted(
        str(p.relative_to(storage_dir(app)))
        for p in storage_dir(app).rglob("*")
        if p.is_file() and str(user.id) in str(p)
    )
    return {
        "voices": [r["id"] for r in voices],
        "objects": [r["path"] for r in objects],
        "files": files,
    }


async def two_step(
    client: httpx.AsyncClient, user: ApiUser, data: bytes, **fields: str
) -> httpx.Response:
    body = {**FIELDS, **fields}
    start = await client.post("/api/clone/upload-url", json=body, headers=user.headers)
    assert start.status_code == 200, start.text
    upload = start.json()
    put = await client.put(upload["upload_url"], content=data)
    if put.status_code >= 400:
        return put
    return await client.post(
        "/api/clone/finalize", json={**body, "voice_id": upload["voice_id"]}, headers=user.headers
    )


async def one_shot(
    client: httpx.AsyncClient, user: ApiUser, data: bytes, filename: str = "clip.wav", **fields: str
) -> httpx.Response:
    return await client.post(
        "/api/clone",
        data={**FIELDS, **fields},
        files={"audio": (filename, data, "application/octet-stream")},
        headers=user.headers,
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("flow", ["two_step", "one_shot"])
async def test_every_accepted_format_clones_through_both_flows(
    app: FastAPI, client: httpx.AsyncClient, db: Database, clip: audio.Clip, fmt: str, flow: str
) -> None:
    user = await sign_up(client)
    data = audio.encode(clip, fmt)
    if flow == "two_step":
        response = await two_step(client, user, data)
    else:
        # A misleading name: the content decides, never the extension.
        response = await one_shot(client, user, data, filename="recording.txt")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "My voice"
    report = body["report"]
    assert report["duration_seconds"] == pytest.approx(clip.duration, abs=1.0)
    assert 0 < report["speech_ratio"] <= 1
    voice_id = UUID(body["id"])

    voice = (await client.get(f"/api/voices/{voice_id}", headers=user.headers)).json()
    assert voice["duration_seconds"] == pytest.approx(clip.duration, abs=1.0)
    assert voice["source"] == "uploaded"
    state = await owned_state(app, db, user)
    ext = audio.DECODED_AS[fmt]
    assert state["objects"] == sorted(
        [
            f"references/{user.id}/{voice_id}/original.{ext}",
            f"references/{user.id}/{voice_id}/reference.wav",
        ]
    )
    assert len(state["files"]) == 2  # the staging upload is gone

    # The stored reference is the normalised WAV: mono, 24 kHz, 16-bit.
    preview = await client.get(f"/api/voices/{voice_id}/preview", headers=user.headers)
    assert preview.status_code == 302
    fetched = await client.get(preview.headers["location"])
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "audio/wav"
    assert fetched.content[:4] == b"RIFF"
    import io
    import wave

    with wave.open(io.BytesIO(fetched.content)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 24000, 2)


@pytest.fixture(scope="module")
def rejections(clip: audio.Clip) -> list[tuple[str, bytes, int, str]]:
    speech_mp3 = audio.encode(clip, "mp3")
    return [
        ("png renamed .wav", audio.png_bytes(), 400, "not audio"),
        ("truncated mp3", audio.truncated(speech_mp3), 400, "corrupt or truncated"),
        ("2 s clip", audio.encode(audio.of_duration(clip, 2.0), "wav"), 400, "at least 3"),
        (
            "6 min clip",
            audio.encode(audio.of_duration(clip, 360.0), "mp3"),
            400,
            "at most 5 minutes",
        ),
        ("empty file", b"", 400, "empty"),
    ]


@pytest.mark.parametrize("index", range(5))
@pytest.mark.parametrize("flow", ["two_step", "one_shot"])
async def test_each_rejection_is_a_clear_4xx_and_leaves_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    rejections: list[tuple[str, bytes, int, str]],
    index: int,
    flow: str,
) -> None:
    label, data, status, words = rejections[index]
    user = await sign_up(client)
    if flow == "two_step":
        response = await two_step(client, user, data)
    else:
        response = await one_shot(client, user, data)
    assert response.status_code == status or (
        # A signed upload refuses what is not audio by content, before finalize runs.
        flow == "two_step" and response.request.method == "PUT" and response.status_code == 415
    ), (label, response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    if response.request.method == "POST":
        assert words in detail.lower(), (label, detail)
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}


@pytest.mark.parametrize("flow", ["two_step", "one_shot"])
async def test_an_upload_one_byte_over_the_limit_is_refused(
    app: FastAPI, client: httpx.AsyncClient, db: Database, clip: audio.Clip, flow: str
) -> None:
    user = await sign_up(client)
    head = audio.encode(clip, "wav")
    data = head + b"\0" * (50 * MIB + 1 - len(head))
    if flow == "two_step":
        response = await two_step(client, user, data)
        assert response.status_code == 413, response.text
    else:
        response = await one_shot(client, user, data)
        assert response.status_code == 400, response.text
        assert "50 MB" in response.json()["detail"]
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"name": ""}, "Name must be 1-100 characters."),
        ({"name": "x" * 101}, "Name must be 1-100 characters."),
        ({"language": ""}, "Language is required."),
        ({"language": "Klingon"}, "Language Klingon is not supported by this server."),
        ({"transcript": "   "}, "Transcript is required."),
    ],
)
async def test_field_checks_come_before_any_upload(
    client: httpx.AsyncClient, fields: dict[str, str], detail: str
) -> None:
    user = await sign_up(client)
    for path in ("/api/clone/upload-url", "/api/clone/finalize"):
        body = {**FIELDS, **fields, "voice_id": "9b2f7a9e-0000-4000-8000-000000000000"}
        response = await client.post(path, json=body, headers=user.headers)
        assert (response.status_code, response.json()) == (400, {"detail": detail}), path
    response = await one_shot(client, user, b"RIFF", **fields)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


async def test_finalize_without_an_upload_says_so(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    start = await client.post("/api/clone/upload-url", json=FIELDS, headers=user.headers)
    response = await client.post(
        "/api/clone/finalize",
        json={**FIELDS, "voice_id": start.json()["voice_id"]},
        headers=user.headers,
    )
    assert (response.status_code, response.json()) == (400, {"detail": "Audio file not uploaded."})
    missing = await client.post("/api/clone/finalize", json=FIELDS, headers=user.headers)
    assert (missing.status_code, missing.json()) == (400, {"detail": "voice_id is required."})


async def test_a_retried_finalize_returns_the_same_voice(
    app: FastAPI, client: httpx.AsyncClient, db: Database, clip: audio.Clip
) -> None:
    user = await sign_up(client)
    start = (await client.post("/api/clone/upload-url", json=FIELDS, headers=user.headers)).json()
    assert (
        await client.put(start["upload_url"], content=audio.encode(clip, "wav"))
    ).status_code in (
        200,
        201,
    )
    body = {**FIELDS, "voice_id": start["voice_id"]}
    first = await client.post("/api/clone/finalize", json=body, headers=user.headers)
    second = await client.post("/api/clone/finalize", json=body, headers=user.headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    state = await owned_state(app, db, user)
    assert len(state["voices"]) == 1 and len(state["objects"]) == 2


async def test_upload_url_shape_and_key(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await client.post("/api/clone/upload-url", json=FIELDS, headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["object_key"] == f"{user.id}/{body['voice_id']}/upload"
    assert body["upload_url"].startswith("http://testserver/storage/v1/object/upload/sign/")
    assert body["max_bytes"] == 50 * MIB


async def test_clone_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    for path in ("/api/clone/upload-url", "/api/clone/finalize", "/api/clone"):
        response = await client.post(path, json=FIELDS)
        assert (response.status_code, response.json()) == (
            401,
            {"detail": "Missing authorization header"},
        )


async def test_a_description_over_the_limit_is_refused_by_every_flow_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, clip: audio.Clip
) -> None:
    user = await sign_up(client)
    data = audio.encode(clip, "wav")
    too_long = "d" * (VOICE_DESCRIPTION_MAX + 1)
    refusal = (400, {"detail": f"Description must be {VOICE_DESCRIPTION_MAX} characters or less."})

    one = await one_shot(client, user, data, description=too_long)
    assert (one.status_code, one.json()) == refusal
    start = await client.post(
        "/api/clone/upload-url", json={**FIELDS, "description": too_long}, headers=user.headers
    )
    assert (start.status_code, start.json()) == refusal
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}

    # Finalize checks the description it is sent, even after an accepted upload; the upload
    # waits for a corrected finalize, and the longest description allowed is taken whole.
    upload = (await client.post("/api/clone/upload-url", json=FIELDS, headers=user.headers)).json()
    assert (await client.put(upload["upload_url"], content=data)).status_code < 300
    body = {**FIELDS, "voice_id": upload["voice_id"]}
    refused = await client.post(
        "/api/clone/finalize", json={**body, "description": too_long}, headers=user.headers
    )
    assert (refused.status_code, refused.json()) == refusal
    state = await owned_state(app, db, user)
    assert state["voices"] == [] and state["objects"] == [f"references/{upload['object_key']}"]
    longest = too_long[:-1]
    done = await client.post(
        "/api/clone/finalize", json={**body, "description": longest}, headers=user.headers
    )
    assert done.status_code == 200, done.text
    voice = (await client.get(f"/api/voices/{done.json()['id']}", headers=user.headers)).json()
    assert voice["description"] == longest
