"""Sessions: refresh-token rotation, reuse detection, and logout scopes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
import pytest

from tests.support.api import ApiUser, sign_in, sign_up
from utter.auth.tokens import hash_token
from utter.db import Database


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/auth/v1/token", params={"grant_type": "refresh_token"}, json={"refresh_token": token}
    )


async def api_works(client: httpx.AsyncClient, access_token: str) -> bool:
    response = await client.get("/api/usage", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def age_rotation(db: Database, token: str, seconds: float) -> None:
    """Pretend the token was swapped `seconds` ago."""
    async with db.as_owner() as conn:
        await conn.execute(
            "update utter.auth_refresh_tokens set revoked_at = now() - %s * interval '1 second'"
            " where token_hash = %s",
            (seconds, hash_token(token)),
        )


# Rotation ------------------------------------------------------------------------------


async def test_refresh_rotates_the_token_and_keeps_the_session(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await refresh(client, user.refresh_token)
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != user.refresh_token
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["user"]["id"] == str(user.id)
    before = jwt.decode(user.access_token, options={"verify_signature": False})
    after = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert after["session_id"] == before["session_id"]
    assert after["amr"] == before["amr"]
    assert await api_works(client, body["access_token"])
    second = await refresh(client, body["refresh_token"])
    assert second.status_code == 200


async def test_a_just_rotated_token_still_works_within_the_reuse_interval(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Two tabs refreshing at once: the slower one presents the already-swapped token."""
    user = await sign_up(client)
    first = (await refresh(client, user.refresh_token)).json()
    await age_rotation(db, user.refresh_token, 9)
    late = await refresh(client, user.refresh_token)
    assert late.status_code == 200
    # Both descendants are live and the session was not touched.
    assert (await refresh(client, first["refresh_token"])).status_code == 200
    assert (await refresh(client, late.json()["refresh_token"])).status_code == 200
    assert await api_works(client, user.access_token)


async def test_reuse_after_the_interval_ends_the_whole_session(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    other_device = await sign_in(client, user.email)
    current = (await refresh(client, user.refresh_token)).json()
    await age_rotation(db, user.refresh_token, 11)

    reused = await refresh(client, user.refresh_token)
    assert reused.status_code == 400
    assert reused.json()["error_code"] == "refresh_token_already_used"
    assert reused.json()["msg"] == "Invalid Refresh Token: Already Used"

    # The thief's use revoked the owner's tokens of that session too…
    assert (await refresh(client, current["refresh_token"])).status_code == 400
    assert not await api_works(client, current["access_token"])
    assert not await api_works(client, user.access_token)
    # …but not the user's other sessions.
    assert await api_works(client, other_device.access_token)
    assert (await refresh(client, other_device.refresh_token)).status_code == 200


async def test_concurrent_refreshes_of_one_token_both_succeed(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    responses = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    tokens = {r.json()["refresh_token"] for r in responses}
    assert len(tokens) == 4
    for response in responses:
        assert await api_works(client, response.json()["access_token"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_failed"),
        ({"refresh_token": "never-issued"}, "refresh_token_not_found"),
    ],
)
async def test_bad_refresh_requests(
    client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await client.post(
        "/auth/v1/token", params={"grant_type": "refresh_token"}, json=body
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == code


async def test_only_hashes_of_refresh_tokens_are_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    async with db.as_owner() as conn:
        plain = await (
            await conn.execute(
                "select count(*) as n from utter.auth_refresh_tokens where token_hash = %s",
                (user.refresh_token,),
            )
        ).fetchone()
        hashed = await (
            await conn.execute(
                "select count(*) as n from utter.auth_refresh_tokens where token_hash = %s",
                (hash_token(user.refresh_token),),
            )
        ).fetchone()
    assert plain is not None and plain["n"] == 0
    assert hashed is not None and hashed["n"] == 1


# Logout --------------------------------------------------------------------------------


async def three_sessions(client: httpx.AsyncClient) -> list[ApiUser]:
    first = await sign_up(client)
    return [first, await sign_in(client, first.email), await sign_in(client, first.email)]


async def logout(client: httpx.AsyncClient, user: ApiUser, scope: str | None) -> httpx.Response:
    params = {} if scope is None else {"scope": scope}
    return await client.post("/auth/v1/logout", params=params, headers=user.headers)


@pytest.mark.parametrize(
    ("scope", "still_signed_in"),
    [
        ("local", [False, True, True]),
        ("global", [False, False, False]),
        (None, [False, False, False]),  # global is the default, as in GoTrue
        ("others", [True, False, False]),
    ],
)
async def test_logout_scopes(
    client: httpx.AsyncClient, scope: str | None, still_signed_in: list[bool]
) -> None:
    sessions = await three_sessions(client)
    response = await logout(client, sessions[0], scope)
    assert response.status_code == 204
    assert response.content == b""
    assert [await api_works(client, s.access_token) for s in sessions] == still_signed_in
    refreshed = [(await refresh(client, s.refresh_token)).status_code for s in sessions]
    assert refreshed == [200 if live else 400 for live in still_signed_in]


async def test_logout_with_an_unknown_scope_is_refused(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await logout(client, user, "everyone")
    assert response.status_code == 400
    assert await api_works(client, user.access_token)


async def test_logout_twice_is_refused_as_already_signed_out(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    assert (await logout(client, user, "local")).status_code == 204
    again = await logout(client, user, "local")
    # supabase clients treat 401/403/404 here as "already signed out".
    assert again.status_code == 403
    assert again.json()["error_code"] == "session_not_found"
