"""Magic links and codes: through the outbox (no SMTP server, the embedded default) and
through a real SMTP server (aiosmtpd, started here) by a real worker, followed to a
signed-in session."""

from __future__ import annotations

import asyncio
import contextlib
import email
import threading
import time
from collections.abc import AsyncIterator, Iterator
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
from tests.support.postgres import free_port, migrated_database
from tests.support.server import app_settings, serve
from utter.app import create_app
from utter.auth.mailer import outbox_dir, read_outbox
from utter.cli import main as utter_main
from utter.db import Database
from utter.engines.local import LocalEngine
from utter.jobs.mail import MAIL_QUEUE
from utter.jobs.worker import run_worker
from utter.settings import Settings


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


# SMTP: mail is queued with its token and sent by a worker -------------------------------


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.arrived.set()
        return "250 Message accepted for delivery"

    async def first(self) -> EmailMessage:
        # aiosmtpd runs in its own thread; a generous bound, so a lost mail fails the test.
        assert await asyncio.to_thread(self.arrived.wait, 120), "no mail arrived"
        return self.messages[0]


def start_inbox(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    controller, inbox = start_inbox(free_port())
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def own_database(pg_server_url: str) -> str:
    """A database whose queue only this test's worker reads."""
    return migrated_database(pg_server_url)


def smtp_settings(data_dir: Path, database_url: str, port: int, **overrides: Any) -> Settings:
    return app_settings(
        data_dir,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        **overrides,
    )


@contextlib.asynccontextmanager
async def worker(settings: Settings, database_url: str) -> AsyncIterator[None]:
    """`utter worker` in this event loop (the local engine, loaded only if a job needs it)."""
    running = asyncio.create_task(run_worker(settings, database_url, engine=LocalEngine()))
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def queued_mail(database_url: str) -> list[dict[str, Any]]:
    async with Database(database_url) as db, db.as_owner() as conn:
        cur = await conn.execute(
            "select status::text as status, attempts, args from procrastinate.procrastinate_jobs"
            " where queue_name = %s",
            (MAIL_QUEUE,),
        )
        return await cur.fetchall()


async def test_magic_link_through_smtp_with_the_official_client(
    smtp_server: tuple[int, Inbox], own_database: str, tmp_path: Path
) -> None:
    port, inbox = smtp_server
    settings = smtp_settings(tmp_path, own_database, port, smtp_sender="Utter <auth@utter.test>")
    with serve(lambda url: settings.model_copy(update={"public_url": url})) as live:
        async with worker(settings, own_database), httpx.AsyncClient(timeout=30) as http:
            sdk = AsyncGoTrueClient(url=f"{live}/auth/v1", http_client=http)
            address = new_email("smtp")
            await sdk.sign_in_with_otp(
                {"email": address, "options": {"email_redirect_to": f"{live}/welcome"}}
            )

            message = await inbox.first()
            assert len(inbox.messages) == 1
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
    # A sent mail's job is gone with the link sealed in it.
    assert await queued_mail(own_database) == []


async def test_a_mail_server_that_is_down_gets_the_mail_when_it_is_back(
    own_database: str, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    settings = smtp_settings(tmp_path, own_database, port, public_url="http://testserver")
    async with (
        Database(own_database) as db,
        worker(settings, own_database),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, db=db, worker=False)),
            base_url="http://testserver",
        ) as client,
    ):
        address = new_email("later")
        response = await client.post("/auth/v1/otp", json={"email": address})
        # The answer does not wait for the mail server: the mail is queued with its token.
        assert response.status_code == 200 and response.json() == {}
        assert await user_row(db, address) is not None

        deadline = time.monotonic() + 60
        while not any(job["attempts"] >= 1 for job in await queued_mail(own_database)):
            assert time.monotonic() < deadline, "the worker never tried to send the mail"
            await asyncio.sleep(0.1)
        (job,) = await queued_mail(own_database)
        assert job["status"] == "todo"  # to be tried again
        assert list(job["args"]) == ["sealed"]

        controller, inbox = start_inbox(port)
        try:
            message = await inbox.first()
        finally:
            controller.stop()
        assert message["To"] == address
        link, code = link_and_code(message)
        # Queued sealed: neither the link's token nor the code was readable in the queue.
        token = parse_qs(urlsplit(link).query)["token"][0]
        assert token not in job["args"]["sealed"] and code not in job["args"]["sealed"]
        landed = await follow(client, link)
        assert "access_token" in fragment(landed.headers["location"])


class SilentServer:
    """A mail server that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.clients: list[asyncio.StreamWriter] = []

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.append(writer)
        self.connected.set()
        await reader.read()  # until the client gives up

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            for writer in self.clients:
                writer.close()
            server.close()


async def test_a_mail_server_that_never_answers_holds_no_database_connection(
    own_database: str, tmp_path: Path
) -> None:
    silent = SilentServer()
    async with silent.running() as port:
        settings = smtp_settings(tmp_path, own_database, port, public_url="http://testserver")
        # One connection in the app's pool: a request that kept it would stop every other.
        async with Database(own_database, min_size=1, max_size=1) as one:
            app = create_app(settings, db=one, worker=False)
            transport = httpx.ASGITransport(app=app)
            async with (
                worker(settings, own_database),
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
            ):
                user = await sign_up(client)
                response = await client.post("/auth/v1/otp", json={"email": user.email})
                assert response.status_code == 200 and response.json() == {}

                await asyncio.wait_for(silent.connected.wait(), 120)
                # The worker is now waiting on the silent server, and the pool's one
                # connection serves the next request.
                me = await client.get("/api/me", headers=user.headers)
                assert me.status_code == 200 and me.json()["signed_in"] is True
                assert len(silent.clients) == 1 and not silent.clients[0].is_closing()


async def test_an_outbox_that_cannot_be_written_answers_500_and_keeps_nothing(
    db: Database, tmp_path: Path
) -> None:
    settings = app_settings(tmp_path, public_url="http://testserver")
    outbox_dir(settings).write_text("a file where the outbox folder should be")
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        address = new_email("unsent")
        response = await client.post("/auth/v1/otp", json={"email": address})
    assert response.status_code == 500
    assert response.json()["msg"] == "Error sending magic link email"
    assert await user_row(db, address) is None
