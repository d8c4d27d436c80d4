"""/auth/v1 accounts over HTTP: sign-up, password sign-in, email confirmation, changing the
password, email and metadata, password recovery, and GoTrue's error shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import DEFAULT_PASSWORD, new_email, sign_in, sign_up
from tests.support.mail import follow, fragment, last_mail, link_and_code
from tests.support.server import app_settings
from utter.app import create_app
from utter.auth.mailer import outbox_dir, read_outbox
from utter.db import Database

VERSION_2024 = {"X-Supabase-Api-Version": "2024-01-01"}


async def signup(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/auth/v1/signup", json=body)


async def password_grant(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
    )


@pytest.fixture
async def confirming(db: Database, tmp_path: Path) -> Any:
    """An app with email confirmation on, and a client for it."""
    app = create_app(
        app_settings(tmp_path, public_url="http://testserver", auth_email_confirmation=True),
        db=db,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield app, client


# Sign-up and sign-in --------------------------------------------------------------------


async def test_signup_answers_a_session_with_the_user(client: httpx.AsyncClient) -> None:
    address = new_email("shape")
    response = await signup(
        client, {"email": address, "password": DEFAULT_PASSWORD, "data": {"plan": "x"}}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "expires_at",
        "refresh_token",
        "user",
    }
    user = body["user"]
    assert user["email"] == address and user["aud"] == "authenticated"
    assert user["role"] == "authenticated" and user["email_confirmed_at"]
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["user_metadata"] == {"plan": "x"}
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert "encrypted_password" not in user


async def test_emails_are_case_insensitive(client: httpx.AsyncClient) -> None:
    address = new_email("Case").replace("case", "CaSe")
    created = (await signup(client, {"email": address, "password": DEFAULT_PASSWORD})).json()
    assert created["user"]["email"] == address.lower()
    signed_in = await password_grant(client, address.upper(), DEFAULT_PASSWORD)
    assert signed_in.status_code == 200
    again = await signup(client, {"email": address.lower(), "password": DEFAULT_PASSWORD})
    assert again.status_code == 422 and again.json()["error_code"] == "user_already_exists"
    assert again.json()["msg"] == "User already registered"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, 400, "validation_failed"),
        ({"password": DEFAULT_PASSWORD}, 400, "validation_failed"),
        ({"email": "x@example.test"}, 400, "validation_failed"),
        ({"email": "x@example.test", "password": "12345"}, 422, "weak_password"),
        ({"phone": "+15550100", "password": DEFAULT_PASSWORD}, 400, "phone_provider_disabled"),
        ({"email": 12, "password": DEFAULT_PASSWORD}, 400, "validation_failed"),
    ],
)
async def test_signup_refusals(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = await signup(client, body)
    assert response.status_code == status
    assert response.json()["error_code"] == code


async def test_weak_password_names_the_reason(client: httpx.AsyncClient) -> None:
    response = await signup(client, {"email": new_email(), "password": "12345"})
    assert response.json() == {
        "code": 422,
        "error_code": "weak_password",
        "msg": "Password should be at least 6 characters.",
        "weak_password": {"reasons": ["length"]},
    }


async def test_minimum_password_length_is_a_setting(db: Database, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path, auth_password_min_length=10), db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        short = await signup(client, {"email": new_email(), "password": "123456789"})
        assert short.status_code == 422
        assert short.json()["msg"] == "Password should be at least 10 characters."
        assert (await signup(client, {"email": new_email(), "password": "1234567890"})).is_success


async def test_errors_take_the_shape_the_client_asks_for(client: httpx.AsyncClient) -> None:
    legacy = await password_grant(client, new_email(), "whatever")
    assert legacy.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }
    assert "x-supabase-api-version" not in legacy.headers
    current = await client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": new_email(), "password": "whatever"},
        headers=VERSION_2024,
    )
    assert current.json() == {"code": "invalid_credentials", "message": "Invalid login credentials"}
    assert current.headers["x-supabase-api-version"] == "2024-01-01"


async def test_bad_json_and_unknown_grants(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/auth/v1/signup", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error_code"] == "bad_json"
    grant = await client.post("/auth/v1/token", params={"grant_type": "pkce"}, json={})
    assert grant.status_code == 400 and grant.json()["msg"] == "unsupported_grant_type"


async def test_the_apikey_header_is_ignored(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    for apikey in ("anon-key", "service-role-key-is-not-special", ""):
        response = await client.get("/auth/v1/user", headers={**user.headers, "apikey": apikey})
        assert response.status_code == 200


async def test_passwords_are_stored_as_argon2id(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    async with db.as_owner() as conn:
        cur = await conn.execute(
            "select encrypted_password from auth.users where id = %s", (user.id,)
        )
        row = await cur.fetchone()
    assert row is not None
    assert row["encrypted_password"].startswith("$argon2id$")
    assert user.password not in row["encrypted_password"]


# Email confirmation (on) ----------------------------------------------------------------


async def test_with_confirmation_on_signup_waits_for_the_link(confirming: Any) -> None:
    app, client = confirming
    address = new_email("confirm")
    response = await signup(client, {"email": address, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert "access_token" not in body
    assert body["email"] == address and "email_confirmed_at" not in body
    assert body["confirmation_sent_at"]

    not_yet = await password_grant(client, address, DEFAULT_PASSWORD)
    assert not_yet.status_code == 400
    assert not_yet.json()["error_code"] == "email_not_confirmed"

    message = last_mail(app, address)
    assert message["Subject"] == "Confirm your email"
    link, _ = link_and_code(message)
    session = fragment((await follow(client, link)).headers["location"])
    assert session["type"] == "signup" and session["access_token"]
    assert (await password_grant(client, address, DEFAULT_PASSWORD)).status_code == 200


async def test_with_confirmation_on_signup_does_not_reveal_existing_accounts(
    confirming: Any,
) -> None:
    app, client = confirming
    address = new_email("exists")
    first = (await signup(client, {"email": address, "password": DEFAULT_PASSWORD})).json()
    link, _ = link_and_code(last_mail(app, address))
    await follow(client, link)
    mails_before = len(read_outbox(outbox_dir(app.state.settings), to=address))

    again = await signup(client, {"email": address, "password": "another password"})
    assert again.status_code == 200
    body = again.json()
    assert body["email"] == address and body["identities"] == []
    assert body["id"] != first["id"]
    # No mail to the real owner, and their password is unchanged.
    assert len(read_outbox(outbox_dir(app.state.settings), to=address)) == mails_before
    assert (await password_grant(client, address, DEFAULT_PASSWORD)).status_code == 200


# Changing the account ------------------------------------------------------------------


async def put_user(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    return await client.put("/auth/v1/user", json=body, headers=headers)


async def test_password_change_ends_the_other_sessions(client: httpx.AsyncClient) -> None:
    here = await sign_up(client)
    elsewhere = await sign_in(client, here.email)
    changed = await put_user(client, here.headers, {"password": "new and longer"})
    assert changed.status_code == 200
    assert (await client.get("/auth/v1/user", headers=here.headers)).status_code == 200
    assert (await client.get("/auth/v1/user", headers=elsewhere.headers)).status_code == 403
    assert (await password_grant(client, here.email, DEFAULT_PASSWORD)).status_code == 400
    assert (await password_grant(client, here.email, "new and longer")).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"password": DEFAULT_PASSWORD}, 422, "same_password"),
        ({"password": "short"}, 422, "weak_password"),
        (
            {"password": "new and longer", "current_password": "not it"},
            400,
            "invalid_credentials",
        ),
        ({"email": "nope"}, 400, "validation_failed"),
    ],
)
async def test_refused_account_changes(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    user = await sign_up(client)
    response = await put_user(client, user.headers, body)
    assert response.status_code == status
    assert response.json()["error_code"] == code
    assert (await password_grant(client, user.email, DEFAULT_PASSWORD)).status_code == 200


async def test_current_password_when_given_must_match(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await put_user(
        client, user.headers, {"password": "new and longer", "current_password": user.password}
    )
    assert response.status_code == 200


async def test_email_change_applies_at_once_without_confirmation(
    client: httpx.AsyncClient,
) -> None:
    user = await sign_up(client)
    taken = await sign_up(client)
    refused = await put_user(client, user.headers, {"email": taken.email})
    assert refused.status_code == 422 and refused.json()["error_code"] == "email_exists"

    address = new_email("moved")
    changed = await put_user(client, user.headers, {"email": address})
    assert changed.status_code == 200 and changed.json()["email"] == address
    assert (await password_grant(client, address, DEFAULT_PASSWORD)).status_code == 200
    assert (await password_grant(client, user.email, DEFAULT_PASSWORD)).status_code == 400


async def test_email_change_with_confirmation_waits_for_the_new_address(
    confirming: Any,
) -> None:
    app, client = confirming
    old = new_email("old")
    await signup(client, {"email": old, "password": DEFAULT_PASSWORD})
    await follow(client, link_and_code(last_mail(app, old))[0])
    user = await sign_in(client, old)

    new = new_email("new")
    pending = await put_user(client, user.headers, {"email": new})
    assert pending.status_code == 200
    assert pending.json()["email"] == old and pending.json()["new_email"] == new
    message = last_mail(app, new)
    assert message["Subject"] == "Confirm your new email address"
    session = fragment((await follow(client, link_and_code(message)[0])).headers["location"])
    assert session["type"] == "email_change"
    assert (await password_grant(client, new, DEFAULT_PASSWORD)).status_code == 200
    current = await client.get("/auth/v1/user", headers=user.headers)
    assert current.json()["email"] == new and "new_email" not in current.json()


async def test_metadata_is_merged_and_null_removes_a_key(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await put_user(client, user.headers, {"data": {"theme": "dark", "lang": "fr"}})
    response = await put_user(client, user.headers, {"data": {"lang": None, "beta": True}})
    assert response.json()["user_metadata"] == {"theme": "dark", "beta": True}


# Recovery ------------------------------------------------------------------------------


async def test_password_recovery_link_signs_in_to_set_a_new_password(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await sign_up(client)
    response = await client.post(
        "/auth/v1/recover",
        params={"redirect_to": "http://testserver/account/reset"},
        json={"email": user.email},
    )
    assert response.status_code == 200 and response.json() == {}
    message = last_mail(app, user.email)
    assert message["Subject"] == "Reset your password"
    link, _ = link_and_code(message)
    assert parse_qs(urlsplit(link).query)["type"] == ["recovery"]
    location = (await follow(client, link)).headers["location"]
    assert location.startswith("http://testserver/account/reset#")
    session = fragment(location)
    assert session["type"] == "recovery"
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    assert (await put_user(client, headers, {"password": "recovered password"})).is_success
    assert (await password_grant(client, user.email, "recovered password")).status_code == 200


async def test_recovery_for_an_unknown_address_looks_the_same(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    address = new_email("ghost")
    response = await client.post("/auth/v1/recover", json={"email": address})
    assert response.status_code == 200 and response.json() == {}
    assert read_outbox(outbox_dir(app.state.settings), to=address) == []


# What the service reports ----------------------------------------------------------------


async def test_settings_health_and_jwks(client: httpx.AsyncClient) -> None:
    settings = (await client.get("/auth/v1/settings")).json()
    assert settings["external"]["email"] is True
    assert settings["external"]["phone"] is False
    assert settings["external"]["google"] is False
    assert settings["external"]["anonymous_users"] is False
    assert settings["mailer_autoconfirm"] is True and settings["disable_signup"] is False
    health = await client.get("/auth/v1/health")
    assert health.status_code == 200 and set(health.json()) == {"version", "name", "description"}
    assert (await client.get("/auth/v1/.well-known/jwks.json")).json() == {"keys": []}
