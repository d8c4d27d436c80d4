"""Bad input is a 4xx with plain words, never a 500: a NUL character in any JSON, form or
query string value (Postgres cannot store one), and paging values that are huge or not
finite. Nothing is written on the way to a refusal."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.api.test_clone import FIELDS, owned_state
from tests.support import audio
from tests.support.api import ApiUser, new_email, sign_up
from tests.support.objects import make_generation, make_voice
from tests.support.server import app_settings
from utter.app import create_app
from utter.db import Database

NUL = "\x00"
NUL_DETAIL = {"detail": "Text must not contain NUL characters."}
NUL_MESSAGE = NUL_DETAIL["detail"]
UNICODE_DETAIL = {"detail": "Text must be valid Unicode."}


@pytest.fixture(scope="module")
def wav() -> bytes:
    return audio.encode(audio.speech(audio.SENTENCES[0]), "wav")


async def _generations(db: Database, user: ApiUser) -> int:
    async with db.as_service() as conn:
        row = await (
            await conn.execute(
                "select (select count(*) from public.generations where user_id = %(u)s)"
                " + (select count(*) from public.tasks where user_id = %(u)s) as n",
                {"u": user.id},
            )
        ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/generate", {"text": f"Hello{NUL} there.", "language": "English"}),
        (
            "/api/voices/design/preview",
            {"text": f"Hi{NUL}.", "instruct": "calm", "language": "English"},
        ),
        (
            "/api/voices/design/preview",
            {"text": "Hi.", "instruct": f"calm{NUL}", "language": "English"},
        ),
    ],
)
async def test_nul_in_a_generation_body_is_a_400_and_queues_nothing(
    client: httpx.AsyncClient, db: Database, path: str, body: dict[str, str]
) -> None:
    user = await sign_up(client)
    voice_id = await make_voice(db, user.id)
    response = await client.post(
        path, json={**body, "voice_id": str(voice_id)}, headers=user.headers
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)
    assert await _generations(db, user) == 0


@pytest.mark.parametrize("field", ["name", "description"])
async def test_nul_in_a_voice_patch_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, field: str
) -> None:
    user = await sign_up(client)
    voice_id = await make_voice(db, user.id, name="Kept")
    response = await client.patch(
        f"/api/voices/{voice_id}", json={field: f"New{NUL}"}, headers=user.headers
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)
    voice = (await client.get(f"/api/voices/{voice_id}", headers=user.headers)).json()
    assert (voice["name"], voice["description"]) == ("Kept", None)


@pytest.mark.parametrize("field", ["name", "transcript", "description", "language"])
async def test_nul_in_a_clone_is_a_400_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, wav: bytes, field: str
) -> None:
    user = await sign_up(client)
    fields = {**FIELDS, "description": "Warm.", field: f"A{NUL}b"}
    one_shot = await client.post(
        "/api/clone",
        data=fields,
        files={"audio": ("clip.wav", wav, "audio/wav")},
        headers=user.headers,
    )
    assert (one_shot.status_code, one_shot.json()) == (400, NUL_DETAIL)
    for path in ("/api/clone/upload-url", "/api/clone/finalize"):
        body = {**fields, "voice_id": "9b2f7a9e-0000-4000-8000-000000000000"}
        response = await client.post(path, json=body, headers=user.headers)
        assert (response.status_code, response.json()) == (400, NUL_DETAIL), path
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}


@pytest.mark.parametrize("field", ["name", "text", "instruct", "language"])
async def test_nul_in_a_designed_voice_form_is_a_400_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, wav: bytes, field: str
) -> None:
    user = await sign_up(client)
    fields = {"name": "Designed", "text": "Hello.", "instruct": "calm", "language": "English"}
    response = await client.post(
        "/api/voices/design",
        data={**fields, field: f"A{NUL}b"},
        files={"audio": ("preview.wav", wav, "audio/wav")},
        headers=user.headers,
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}


@pytest.mark.parametrize("field", ["task_id", "name"])
async def test_nul_in_a_designed_voice_json_is_a_400(client: httpx.AsyncClient, field: str) -> None:
    user = await sign_up(client)
    body = {"task_id": "9b2f7a9e-0000-4000-8000-000000000000", "name": "Designed"}
    response = await client.post(
        "/api/voices/design", json={**body, field: f"A{NUL}"}, headers=user.headers
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)


async def test_nul_in_a_transcription_language_is_a_400(
    client: httpx.AsyncClient, wav: bytes
) -> None:
    user = await sign_up(client)
    response = await client.post(
        "/api/transcriptions",
        files={"audio": ("a.wav", wav)},
        data={"language": f"English{NUL}"},
        headers=user.headers,
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)


@pytest.mark.parametrize("field", ["display_name", "handle", "avatar_url"])
async def test_nul_in_a_profile_patch_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, field: str
) -> None:
    user = await sign_up(client)
    values = {"display_name": "Ada", "handle": "ada_1", "avatar_url": "https://a.example/x.png"}
    response = await client.patch(
        "/api/profile", json={field: values[field] + NUL}, headers=user.headers
    )
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)
    profile = (await client.get("/api/me", headers=user.headers)).json()["profile"]
    assert profile[field] is None


@pytest.mark.parametrize(
    "query",
    [
        {"search": f"a{NUL}"},
        {"search": NUL},
        {"page": f"2{NUL}"},
        {"source": f"uploaded{NUL}"},
        {"status": f"completed{NUL}"},
        {f"x{NUL}": "1"},
    ],
)
@pytest.mark.parametrize("path", ["/api/voices", "/api/generations"])
async def test_nul_in_a_query_string_is_a_400(
    client: httpx.AsyncClient, db: Database, path: str, query: dict[str, str]
) -> None:
    user = await sign_up(client)
    await make_generation(db, user.id, await make_voice(db, user.id))
    response = await client.get(path, params=query, headers=user.headers)
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)


def _auth_message(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body.get("msg") or body.get("message"))


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("POST", "/auth/v1/signup", {}, {"email": f"a{NUL}@example.test", "password": "x" * 12}),
        ("POST", "/auth/v1/signup", {}, {"email": "EMAIL", "password": f"long{NUL}password"}),
        (
            "POST",
            "/auth/v1/signup",
            {},
            {"email": "EMAIL", "password": "x" * 12, "data": {"display_name": f"A{NUL}"}},
        ),
        ("POST", "/auth/v1/signup", {}, {"email": "EMAIL", "password": "x" * 12, "data": {NUL: 1}}),
        (
            "POST",
            "/auth/v1/token",
            {"grant_type": "password"},
            {"email": f"a{NUL}@example.test", "password": "x" * 12},
        ),
        ("POST", "/auth/v1/otp", {}, {"email": f"EMAIL{NUL}"}),
        ("POST", "/auth/v1/recover", {}, {"email": f"EMAIL{NUL}"}),
        ("POST", "/auth/v1/verify", {}, {"type": "email", "email": "EMAIL", "token": f"12{NUL}"}),
        ("POST", "/auth/v1/otp", {"redirect_to": f"http://testserver/{NUL}"}, {"email": "EMAIL"}),
        ("GET", "/auth/v1/verify", {"token": f"t{NUL}", "type": "magiclink"}, None),
    ],
)
async def test_nul_under_auth_is_a_gotrue_400(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    params: dict[str, str],
    body: dict[str, Any] | None,
) -> None:
    email = new_email()
    if body is not None:
        body = {k: v.replace("EMAIL", email) if isinstance(v, str) else v for k, v in body.items()}
    response = await client.request(method, path, params=params, json=body)
    assert response.status_code == 400, response.text
    assert _auth_message(response) == NUL_MESSAGE
    assert response.json().get("error_code") == "validation_failed"


async def test_nul_in_a_signed_in_users_update_is_a_gotrue_400(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    response = await client.put(
        "/auth/v1/user", json={"data": {"bio": [f"x{NUL}"]}}, headers=user.headers
    )
    assert response.status_code == 400, response.text
    assert _auth_message(response) == NUL_MESSAGE
    me = await client.get("/auth/v1/user", headers=user.headers)
    assert "bio" not in me.json()["user_metadata"]


# Paging -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "page", "per_page"),
    [
        ({"page": "1e308"}, 100_000, 20),
        ({"page": "99999999999999999999"}, 100_000, 20),
        ({"page": "inf"}, 100_000, 20),
        ({"page": "-inf"}, 1, 20),
        ({"page": "nan", "per_page": "inf"}, 1, 100),
        ({"page": "1e308", "per_page": "nan"}, 100_000, 20),
        ({"page": "1e308", "per_page": "1e308"}, 100_000, 100),
        ({"page": "99999999999999999999", "per_page": "99999999999999999999"}, 100_000, 100),
    ],
)
@pytest.mark.parametrize(
    ("path", "key"), [("/api/voices", "voices"), ("/api/generations", "generations")]
)
async def test_huge_or_non_finite_paging_is_clamped(
    client: httpx.AsyncClient,
    db: Database,
    path: str,
    key: str,
    query: dict[str, str],
    page: int,
    per_page: int,
) -> None:
    user = await sign_up(client)
    await make_generation(db, user.id, await make_voice(db, user.id))
    response = await client.get(path, params=query, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"page": page, "per_page": per_page, "total": 1, "pages": 1}
    assert len(body[key]) == (1 if page == 1 else 0)


# Half a surrogate pair -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("PATCH", "/api/profile", '{"display_name": "a\\ud800"}', UNICODE_DETAIL),
        ("PATCH", "/api/voices/VOICE", '{"name": "a\\udfff"}', UNICODE_DETAIL),
        (
            "POST",
            "/api/generate",
            '{"voice_id": "VOICE", "text": "a\\ud800", "language": "English"}',
            UNICODE_DETAIL,
        ),
        (
            "PUT",
            "/auth/v1/user",
            '{"data": {"bio": "a\\ud800"}}',
            {"code": 400, "error_code": "validation_failed", "msg": UNICODE_DETAIL["detail"]},
        ),
    ],
)
async def test_a_lone_surrogate_in_json_is_a_400_and_writes_nothing(
    client: httpx.AsyncClient,
    db: Database,
    method: str,
    path: str,
    body: str,
    expected: dict[str, Any],
) -> None:
    """JSON can carry `\\ud800`, half of a surrogate pair: no character, so no text to store."""
    user = await sign_up(client)
    voice_id = str(await make_voice(db, user.id, name="Kept"))
    response = await client.request(
        method,
        path.replace("VOICE", voice_id),
        content=body.replace("VOICE", voice_id),
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (400, expected)
    me = (await client.get("/api/me", headers=user.headers)).json()["profile"]
    voice = (await client.get(f"/api/voices/{voice_id}", headers=user.headers)).json()
    assert (me["display_name"], voice["name"], await _generations(db, user)) == (None, "Kept", 0)


async def test_a_nul_that_reaches_postgres_is_still_a_400(db: Database, tmp_path: Path) -> None:
    """The safety net behind the checks: psycopg's refusal of a NUL becomes a 400, and the
    transaction it happened in writes nothing."""
    app = create_app(app_settings(tmp_path / "data", public_url="http://testserver"), db=db)
    marker = f"door-{uuid.uuid4().hex}"

    async def unchecked() -> None:
        async with db.as_service() as conn:
            await conn.execute(
                "insert into utter.auth_rate_limits (bucket, key, window_start, hits)"
                " values ('door-test', %s, now(), 1)",
                (marker,),
            )
            await conn.execute("select %s::text", (f"a{NUL}",))

    app.router.routes.insert(0, APIRoute("/api/test-only/unchecked", unchecked, methods=["POST"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/api/test-only/unchecked")
    assert (response.status_code, response.json()) == (400, NUL_DETAIL)
    async with db.as_service() as conn:
        row = await (
            await conn.execute(
                "select count(*) as n from utter.auth_rate_limits where key = %s", (marker,)
            )
        ).fetchone()
    assert row is not None and row["n"] == 0
