"""The official Supabase Auth Python client (`supabase-auth` from PyPI), unchanged, against a
running Utter: the issue's proof that /auth/v1 speaks GoTrue's dialect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.support.api import DEFAULT_PASSWORD, new_email


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def gotrue(live_server: str, http: httpx.AsyncClient) -> AsyncGoTrueClient:
    # The anon key a Supabase app would send; Utter accepts and ignores it.
    return AsyncGoTrueClient(
        url=f"{live_server}/auth/v1",
        headers={"apikey": "anon-key-is-ignored"},
        http_client=http,
        auto_refresh_token=False,
    )


async def test_sign_up_sign_in_refresh_get_update_and_sign_out(
    live_server: str, http: httpx.AsyncClient
) -> None:
    client = gotrue(live_server, http)
    email = new_email("sdk")

    signed_up = await client.sign_up(
        {"email": email, "password": DEFAULT_PASSWORD, "options": {"data": {"name": "Ada"}}}
    )
    assert signed_up.session is not None and signed_up.user is not None
    assert signed_up.user.email == email
    assert signed_up.user.user_metadata == {"name": "Ada"}
    assert signed_up.user.email_confirmed_at is not None
    user_id = signed_up.user.id

    signed_in = await client.sign_in_with_password({"email": email, "password": DEFAULT_PASSWORD})
    assert signed_in.session is not None and signed_in.user is not None
    assert signed_in.user.id == user_id
    assert signed_in.session.expires_in == 3600
    first_refresh_token = signed_in.session.refresh_token

    refreshed = await client.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != first_refresh_token

    fetched = await client.get_user()
    assert fetched is not None and fetched.user.id == user_id and fetched.user.email == email

    # The session's token works on the Utter API too.
    me = await http.get(
        f"{live_server}/api/me",
        headers={"Authorization": f"Bearer {refreshed.session.access_token}"},
    )
    assert me.json()["signed_in"] is True and me.json()["user"]["id"] == user_id

    updated = await client.update_user({"password": "a brand new passphrase"})
    assert updated.user.id == user_id
    other_device = gotrue(live_server, http)
    with pytest.raises(AuthApiError) as refused:
        await other_device.sign_in_with_password({"email": email, "password": DEFAULT_PASSWORD})
    assert refused.value.code == "invalid_credentials"
    again = await other_device.sign_in_with_password(
        {"email": email, "password": "a brand new passphrase"}
    )
    assert again.user is not None and again.user.id == user_id

    session = await client.get_session()
    assert session is not None
    last_refresh_token, last_access_token = session.refresh_token, session.access_token
    await client.sign_out()
    assert await client.get_session() is None

    # Signed out everywhere (the default scope is global): the refresh token is dead and
    # the access token no longer opens the API.
    with pytest.raises(AuthApiError) as dead:
        await client.refresh_session(last_refresh_token)
    assert dead.value.code == "refresh_token_not_found"
    me = await http.get(
        f"{live_server}/api/me", headers={"Authorization": f"Bearer {last_access_token}"}
    )
    assert me.json() == {"signed_in": False, "user": None, "profile": None}
    other_session = await other_device.get_session()
    assert other_session is not None
    with pytest.raises(AuthApiError):
        await other_device.get_user(other_session.access_token)


async def test_client_reads_gotrue_errors(live_server: str, http: httpx.AsyncClient) -> None:
    client = gotrue(live_server, http)
    with pytest.raises(AuthWeakPasswordError) as weak:
        await client.sign_up({"email": new_email("weak"), "password": "12345"})
    assert weak.value.status == 422
    assert weak.value.reasons == ["length"]
    assert "at least 6 characters" in weak.value.message

    email = new_email("dup")
    await client.sign_up({"email": email, "password": DEFAULT_PASSWORD})
    with pytest.raises(AuthApiError) as duplicate:
        await gotrue(live_server, http).sign_up({"email": email, "password": DEFAULT_PASSWORD})
    assert duplicate.value.code == "user_already_exists"
    assert duplicate.value.status == 422


async def test_unknown_email_and_wrong_password_read_the_same(
    live_server: str, http: httpx.AsyncClient
) -> None:
    client = gotrue(live_server, http)
    email = new_email("same")
    await client.sign_up({"email": email, "password": DEFAULT_PASSWORD})
    answers = []
    for credentials in (
        {"email": email, "password": "not the password"},
        {"email": new_email("nobody"), "password": "not the password"},
    ):
        with pytest.raises(AuthApiError) as refused:
            await gotrue(live_server, http).sign_in_with_password(credentials)  # type: ignore[arg-type]
        answers.append((refused.value.status, refused.value.code, refused.value.message))
    assert answers[0] == answers[1] == (400, "invalid_credentials", "Invalid login credentials")
