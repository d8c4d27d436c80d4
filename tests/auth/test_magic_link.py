"""Magic links and codes: through the outbox (no SMTP server, the embedded default) and
through a real SMTP server (aiosmtpd, started here), followed to a signed-in session."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from supabase_auth import AsyncGoTrueClient

from tests.support.api import new_email, sign_up
from tests.support.mail import follow, fragment, last_mail, link_and_code
from tests.support.postgres import free_port
from tests.support.server import app_settings, serve
from utter.app import create_app
from utter.auth.mailer import outbox_dir, read_outbox
from utter.cli import main as utter_main
from utter.db import Database


async def user_row(db: Database, address: str) -> dict[str, Any] | None:
    async with db.as_owner() as conn:
        cur = await conn.execute(
            "select id, email_confirmed_at from auth.users where email = %s", (address,)
        )
        return await cur.fetchone()


# Outbox ----------------------------------------------------------------------------------


async def test_magic_link_signs_up_and_in_a_new_address(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    address = new_email("magic")
    response = await client.post("/auth/v1/otp", json={"email": address, "create_user": True})
    assert response.status_code == 200 and response.json() == {}
    created = await user_row(db, address)
    assert created is not None and created["email_confirmed_at"] is None

    message = last_mail(app, address)
    assert message["Subject"] == "Your sign-in link"
    link, _ = link_and_code(message)
    query = parse_qs(urlsplit(link).query)
    assert query["type"] == ["magiclink"] and query["redirect_to"] == ["http://testserver/"]

    landed = await follow(client, link)
    location = landed.headers["location"]
    assert location.startswith("http://testserver/#")
    session = fragment(location)
    assert session["token_type"] == "bearer" and session["type"] == "magiclink"
    assert session["expires_in"] == "3600" and int(session["expires_at"]) > 0
    assert session["refresh_token"]

    me = await client.get("/api/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.json()["signed_in"] is True
    assert me.json()["user"]["id"] == str(created["id"])
    confirmed = await user_row(db, address)
    assert confirmed is not None and confirmed["email_confirmed_at"] is not None


async def test_a_link_works_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, _ = link_and_code(last_mail(app, user.email))
    assert "access_token" in fragment((await follow(client, link)).headers["location"])
    again = fragment((await follow(client, link)).headers["location"])
    assert again == {
        "error": "access_denied",
        "error_code": "otp_expired",
        "error_description": "Email link is invalid or has expired",
    }


async def test_a_new_link_replaces_the_previous_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    old_link, _ = link_and_code(last_mail(app, user.email))
    await client.post("/auth/v1/otp", json={"email": user.email})
    new_link, _ = link_and_code(last_mail(app, user.email))
    assert "error" in fragment((await follow(client, old_link)).headers["location"])
    assert "access_token" in fragment((await follow(client, new_link)).headers["location"])


async def test_an_expired_link_is_refused(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, _ = link_and_code(last_mail(app, user.email))
    async with db.as_owner() as conn:
        await conn.execute(
            "update utter.auth_one_time_tokens set expires_at = now() - interval '1 second'"
            " where user_id = %s",
            (user.id,),
        )
    assert fragment((await follow(client, link)).headers["location"])["error_code"] == (
        "otp_expired"
    )


async def test_the_code_signs_in_instead_of_the_link(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, code = link_and_code(last_mail(app, user.email))
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post(
        "/auth/v1/verify", json={"type": "email", "email": user.email, "token": wrong}
    )
    assert refused.status_code == 403
    assert refused.json()["msg"] == "Token has expired or is invalid"

    verified = await client.post(
        "/auth/v1/verify", json={"type": "email", "email": user.email.upper(), "token": code}
    )
    assert verified.status_code == 200
    assert verified.json()["user"]["id"] == str(user.id)
    # Redeeming the code used the token up: the link is dead too.
    assert "error" in fragment((await follow(client, link)).headers["location"])


async def test_post_verify_accepts_the_link_token_as_token_hash(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, _ = link_and_code(last_mail(app, user.email))
    token = parse_qs(urlsplit(link).query)["token"][0]
    verified = await client.post("/auth/v1/verify", json={"type": "magiclink", "token_hash": token})
    assert verified.status_code == 200
    assert verified.json()["user"]["email"] == user.email


async def test_create_user_false_does_not_create_accounts(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    address = new_email("nobody")
    response = await client.post("/auth/v1/otp", json={"email": address, "create_user": False})
    assert response.status_code == 422
    assert response.json()["error_code"] == "otp_disabled"
    assert await user_row(db, address) is None
    assert read_outbox(outbox_dir(app.state.settings), to=address) == []


async def test_redirects_only_to_this_site_or_the_allow_list(db: Database, tmp_path: Path) -> None:

    app = create_app(
        app_settings(
            tmp_path,
            public_url="http://testserver",
            auth_redirect_allow_list="https://app.example.com/*, http://localhost:5173/*",
        ),
        db=db,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        user = await sign_up(client)
        for asked, expected in (
            ("http://testserver/voices", "http://testserver/voices"),
            ("https://app.example.com/welcome", "https://app.example.com/welcome"),
            ("http://localhost:5173/", "http://localhost:5173/"),
            ("https://evil.example/steal", "http://testserver/"),
            ("javascript:alert(1)", "http://testserver/"),
        ):
            await client.post(
                "/auth/v1/otp", params={"redirect_to": asked}, json={"email": user.email}
            )
            link, _ = link_and_code(last_mail(app, user.email))
            assert parse_qs(urlsplit(link).query)["redirect_to"] == [expected], asked
            # The redirect target is checked again when the link is followed.
            parts = urlsplit(link)
            landed = await client.get(
                f"{parts.path}?token={parse_qs(parts.query)['token'][0]}&type=magiclink"
                f"&redirect_to={asked}"
            )
            assert landed.headers["location"].startswith(expected + "#"), asked


async def test_utter_mail_prints_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, code = link_and_code(last_mail(app, user.email))
    data_dir = str(app.state.settings.data_dir)

    assert utter_main(["mail", "--data-dir", data_dir, "--to", user.email]) == 0
    printed = capsys.readouterr().out
    assert f"to {user.email}" in printed and link in printed and code in printed

    assert utter_main(["mail", "--data-dir", data_dir, "--to", "someone@else.test"]) == 0
    assert "No mail" in capsys.readouterr().out


async def test_the_outbox_is_not_served_over_http(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await client.post("/auth/v1/otp", json={"email": user.email})
    link, code = link_and_code(last_mail(app, user.email))
    name = next(outbox_dir(app.state.settings).glob("*.eml")).name
    for path in (f"/outbox/{name}", f"/data/outbox/{name}", "/auth/v1/outbox", "/api/outbox"):
        response = await client.get(path)
        # At most the web app's page (its fallback answers unknown paths), never the mail.
        assert link not in response.text and code not in response.text, path
        assert "message/rfc822" not in response.headers.get("content-type", "")


# SMTP ----------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


async def test_magic_link_through_smtp_with_the_official_client(
    smtp_server: tuple[int, Inbox], database_url: str, tmp_path: Path
) -> None:
    port, inbox = smtp_server
    with serve(
        lambda url: app_settings(
            tmp_path,
            database_url=database_url,
            public_url=url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
            smtp_sender="Utter <auth@utter.test>",
        )
    ) as live:
        async with httpx.AsyncClient(timeout=30) as http:
            sdk = AsyncGoTrueClient(url=f"{live}/auth/v1", http_client=http)
            address = new_email("smtp")
            await sdk.sign_in_with_otp(
                {"email": address, "options": {"email_redirect_to": f"{live}/welcome"}}
            )

            assert len(inbox.messages) == 1
            message = inbox.messages[0]
            assert message["To"] == address and message["From"] == "Utter <auth@utter.test>"
            link, _ = link_and_code(message)
            assert link.startswith(f"{live}/auth/v1/verify?")
            # Nothing went to the outbox: the link left only by mail.
            assert read_outbox(tmp_path / "outbox") == []

            landed = await http.get(link)
            assert landed.status_code == 303
            location = landed.headers["location"]
            assert location.startswith(f"{live}/welcome#access_token=")

            # The browser's client picks the session out of the URL, as detectSessionInUrl does.
            browser = AsyncGoTrueClient(url=f"{live}/auth/v1", http_client=http)
            await browser.initialize_from_url(location)
            session = await browser.get_session()
            assert session is not None and session.user.email == address

            me = await http.get(
                f"{live}/api/me", headers={"Authorization": f"Bearer {session.access_token}"}
            )
            assert me.json()["signed_in"] is True
            assert me.json()["user"]["id"] == session.user.id


async def test_an_smtp_failure_answers_500_and_keeps_nothing(db: Database, tmp_path: Path) -> None:

    closed_port = free_port()
    app = create_app(
        app_settings(
            tmp_path,
            public_url="http://testserver",
            smtp_host="127.0.0.1",
            smtp_port=closed_port,
            smtp_tls="none",
        ),
        db=db,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        address = new_email("unsent")
        response = await client.post("/auth/v1/otp", json={"email": address})
    assert response.status_code == 500
    assert response.json()["msg"] == "Error sending magic link email"
    assert await user_row(db, address) is None
