"""Access tokens: what the built-in auth issues, and every kind of bad token refused.

A protected route answers 401 `Invalid or expired token` for each bad token, /api/me
answers `signed_in: false`, and /auth/v1/user refuses it as GoTrue does (403 bad_jwt)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support.api import ApiUser, sign_up
from tests.support.server import app_settings
from utter.app import create_app
from utter.db import Database
from utter.keys import load_or_create_secret

BadToken = Callable[[dict[str, Any], str], str]


def app_secret(app: FastAPI) -> str:
    return load_or_create_secret(app.state.settings.data_dir, "jwt_secret")


def claims_of(user: ApiUser) -> dict[str, Any]:
    return dict(jwt.decode(user.access_token, options={"verify_signature": False}))


def _tampered(claims: dict[str, Any], secret: str) -> str:
    """A genuine token whose payload was then edited to name another user."""
    header, _, signature = jwt.encode(claims, secret, algorithm="HS256").split(".")
    forged = json.dumps(dict(claims, sub=str(uuid.uuid4()))).encode()
    payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


BAD_TOKENS: dict[str, BadToken] = {
    "expired": lambda c, s: jwt.encode(
        dict(c, exp=int(time.time()) - 5, iat=int(time.time()) - 3605), s, algorithm="HS256"
    ),
    "tampered": _tampered,
    "wrong audience": lambda c, s: jwt.encode(dict(c, aud="anon"), s, algorithm="HS256"),
    "wrong key": lambda c, s: jwt.encode(c, "another-secret-" + "x" * 32, algorithm="HS256"),
    "alg none": lambda c, s: jwt.encode(c, None, algorithm="none"),
    "anon role": lambda c, s: jwt.encode(dict(c, role="anon"), s, algorithm="HS256"),
    "no expiry": lambda c, s: jwt.encode(
        {k: v for k, v in c.items() if k != "exp"}, s, algorithm="HS256"
    ),
    "unknown session": lambda c, s: jwt.encode(
        dict(c, session_id=str(uuid.uuid4())), s, algorithm="HS256"
    ),
    "no session": lambda c, s: jwt.encode(
        {k: v for k, v in c.items() if k != "session_id"}, s, algorithm="HS256"
    ),
    "not a uuid subject": lambda c, s: jwt.encode(dict(c, sub="admin"), s, algorithm="HS256"),
    "not a jwt": lambda c, s: "definitely.not.a-jwt",
}


async def test_issued_token_carries_supabase_claims(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    header = jwt.get_unverified_header(user.access_token)
    claims = claims_of(user)
    assert header["alg"] == "HS256"
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["email"] == user.email
    assert claims["exp"] - claims["iat"] == 3600
    assert uuid.UUID(claims["session_id"])
    assert claims["aal"] == "aal1"
    assert claims["amr"][0]["method"] == "password"
    assert claims["iss"] == "http://testserver/auth/v1"


async def test_a_token_signed_like_the_real_one_is_accepted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The forgeries below differ from this one in exactly one defect each."""
    user = await sign_up(client)
    token = jwt.encode(claims_of(user), app_secret(app), algorithm="HS256")
    response = await client.get("/api/usage", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("defect", list(BAD_TOKENS))
async def test_bad_tokens_are_refused_everywhere(
    app: FastAPI, client: httpx.AsyncClient, defect: str
) -> None:
    user = await sign_up(client)
    token = BAD_TOKENS[defect](claims_of(user), app_secret(app))
    headers = {"Authorization": f"Bearer {token}"}

    protected = await client.get("/api/usage", headers=headers)
    assert protected.status_code == 401
    assert protected.json() == {"detail": "Invalid or expired token"}

    me = await client.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == {"signed_in": False, "user": None, "profile": None}

    gotrue = await client.get("/auth/v1/user", headers=headers)
    assert gotrue.status_code == 403
    assert gotrue.json()["error_code"] in {"bad_jwt", "session_not_found"}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token"])
async def test_malformed_authorization_headers_are_invalid_tokens(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/api/usage", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or expired token"}


async def test_no_header_is_a_missing_header(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/usage"), ("PATCH", "/api/profile")):
        response = await client.request(method, path, json={"handle": "someone"})
        assert response.status_code == 401, path
        assert response.json() == {"detail": "Missing authorization header"}
    no_auth = await client.get("/auth/v1/user")
    assert no_auth.status_code == 401
    assert no_auth.json()["error_code"] == "no_authorization"


async def test_a_token_stops_working_when_its_session_is_signed_out(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    assert (await client.get("/api/usage", headers=user.headers)).status_code == 200
    logout = await client.post("/auth/v1/logout", params={"scope": "local"}, headers=user.headers)
    assert logout.status_code == 204
    after = await client.get("/api/usage", headers=user.headers)
    assert after.status_code == 401
    assert after.json() == {"detail": "Invalid or expired token"}


async def test_tokens_from_another_instance_with_another_key_are_refused(
    app: FastAPI, client: httpx.AsyncClient, db: Database, tmp_path: Path
) -> None:
    """Each data dir generates its own key: replicas must share UTTER_JWT_SECRET."""
    other = create_app(app_settings(tmp_path / "other", public_url="http://testserver"), db=db)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c2:
        user = await sign_up(c2)
        assert (await c2.get("/api/usage", headers=user.headers)).status_code == 200
    assert (await client.get("/api/usage", headers=user.headers)).status_code == 401


async def test_a_configured_secret_signs_and_replicas_sharing_it_agree(
    db: Database, tmp_path: Path
) -> None:
    secret = "s" * 40
    apps = [
        create_app(
            app_settings(tmp_path / name, public_url="http://testserver", jwt_secret=secret),
            db=db,
        )
        for name in ("one", "two")
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver")
        for a in apps
    ]
    try:
        user = await sign_up(clients[0])
        jwt.decode(user.access_token, secret, algorithms=["HS256"], audience="authenticated")
        assert (await clients[1].get("/api/usage", headers=user.headers)).status_code == 200
        assert not (tmp_path / "one" / "keys" / "jwt_secret").exists()
    finally:
        for c in clients:
            await c.aclose()
