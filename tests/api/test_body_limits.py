"""Limits at the door, over a real server and real sockets: a body over its route's limit is
refused with 413 before it is read (from Content-Length) or as soon as a chunked body passes
the limit, leaving nothing behind; and an unexpected 500 keeps the connection open."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.support.api import ApiUser, sign_up
from tests.support.server import app_settings, serve, serve_asgi
from utter.app import create_app
from utter.db import Database

MIB = 1024 * 1024
UPLOAD_ROUTES = ["/api/clone", "/api/transcriptions", "/api/voices/design"]
UPLOAD_DOOR = 51 * MIB  # the 50 MB file limit plus 1 MB of form
BOUNDARY = "door-test-boundary"
# Never reached when the server answers as it should: only stops a test that would hang.
NO_ANSWER_TIMEOUT = 60


class LiveServer:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("door")
    with serve(
        lambda url: app_settings(data_dir, database_url=database_url, public_url=url)
    ) as url:
        yield LiveServer(url, data_dir)


@pytest.fixture
async def user(server: LiveServer) -> ApiUser:
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await sign_up(client)


def _open(server: LiveServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port))
    sock.settimeout(NO_ANSWER_TIMEOUT)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of one response (Content-Length framed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def _head(method: str, path: str, user: ApiUser, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: testserver",
        f"Authorization: Bearer {user.access_token}",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _form_start() -> bytes:
    """The start of a multipart form whose `audio` file never ends."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nBig\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\nRIFF"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _nothing_left(server: LiveServer, db: Database, user: ApiUser) -> None:
    async with db.as_service() as conn:
        row = await (
            await conn.execute(
                "select (select count(*) from public.voices where user_id = %(u)s)"
                " + (select count(*) from storage.objects where name like %(p)s) as n",
                {"u": user.id, "p": f"{user.id}/%"},
            )
        ).fetchone()
    assert row is not None and row["n"] == 0
    stored = [p for p in (server.data_dir / "storage").rglob("*") if str(user.id) in str(p)]
    assert stored == []


def _open_temp_files() -> list[str]:
    """Files this process (the server runs in it) holds open in the temp dir, unlinked ones
    included: where an upload would be spooled."""
    temp = os.path.realpath(tempfile.gettempdir())
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(temp + "/"):
            found.append(target)
    return found


async def _no_new_temp_files(before: list[str]) -> None:
    """No temp file opened for the refused request stays open. The route's clean-up runs
    after the 413 has gone out, so give it a moment before calling a file left over."""
    deadline = asyncio.get_running_loop().time() + 10
    while left := set(_open_temp_files()) - set(before):
        assert asyncio.get_running_loop().time() < deadline, left
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
async def test_an_upload_declared_too_large_is_refused_before_it_is_read(
    server: LiveServer, db: Database, user: ApiUser, path: str
) -> None:
    before = _open_temp_files()
    head = _head(
        "POST",
        path,
        user,
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(300 * 1000 * 1000),
        },
    )
    with _open(server) as sock:
        # A few bytes of the 300 MB: the answer must come without the rest.
        sock.sendall(head + _form_start())
        status, headers, body = await asyncio.to_thread(_read_response, sock)
    assert status == 413, body
    assert headers["content-type"] == "application/json"
    assert httpx.Response(413, content=body).json() == {
        "detail": "The upload is larger than the 50 MB allowed."
    }
    await _nothing_left(server, db, user)
    await _no_new_temp_files(before)


@pytest.mark.parametrize("path", UPLOAD_ROUTES)
async def test_a_chunked_upload_is_refused_once_it_passes_the_limit(
    server: LiveServer, db: Database, user: ApiUser, path: str
) -> None:
    before = _open_temp_files()
    head = _head(
        "POST",
        path,
        user,
        {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Transfer-Encoding": "chunked",
        },
    )
    block = b"\0" * MIB

    def stream_past_the_limit() -> tuple[int, dict[str, str], bytes]:
        with _open(server) as sock:
            sock.sendall(head + _chunk(_form_start()))
            for _ in range(UPLOAD_DOOR // MIB + 1):
                sock.sendall(_chunk(block))
            # The body never ends: only a server that answers mid-stream answers at all.
            return _read_response(sock)

    status, _, body = await asyncio.to_thread(stream_past_the_limit)
    assert status == 413, body
    assert httpx.Response(413, content=body).json() == {
        "detail": "The upload is larger than the 50 MB allowed."
    }
    await _nothing_left(server, db, user)
    await _no_new_temp_files(before)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_json_body_over_the_json_limit_is_refused(
    server: LiveServer, db: Database, user: ApiUser, chunked: bool
) -> None:
    body = b'{"name": "' + b"x" * (MIB + 1) + b'"}'
    headers = {"Content-Type": "application/json"}
    headers |= {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    payload = _chunk(body) if chunked else body[:100]

    def send() -> tuple[int, dict[str, str], bytes]:
        with _open(server) as sock:
            sock.sendall(_head("POST", "/api/clone/upload-url", user, headers) + payload)
            return _read_response(sock)

    status, _, answer = await asyncio.to_thread(send)
    assert status == 413, answer
    assert httpx.Response(413, content=answer).json() == {
        "detail": "The request body is larger than the 1 MB allowed."
    }
    await _nothing_left(server, db, user)
    # Just under the limit, the body reaches the route as before (refused for its name).
    async with httpx.AsyncClient(base_url=server.url) as client:
        under = await client.post(
            "/api/clone/upload-url",
            json={"name": "x" * (MIB - 100), "language": "English", "transcript": "Hi."},
            headers=user.headers,
        )
    assert (under.status_code, under.json()) == (400, {"detail": "Name must be 1-100 characters."})


async def test_an_auth_body_over_the_limit_is_refused_in_gotrue_shape(
    server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/auth/v1/signup",
            json={"email": "big@example.test", "password": "x" * (2 * MIB)},
            headers={"X-Supabase-Api-Version": "2024-01-01"},
        )
    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "message": "The request body is larger than the 1 MB allowed.",
    }


# A 500 keeps the connection ----------------------------------------------------------


def test_the_connection_survives_an_unexpected_500(database_url: str, tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    def make_app(url: str) -> FastAPI:
        settings = app_settings(tmp_path / "data", database_url=database_url, public_url=url)
        app = create_app(settings)
        app.router.routes.insert(0, APIRoute("/api/test-only/boom", boom, methods=["GET"]))
        return app

    with serve_asgi(make_app) as url:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=NO_ANSWER_TIMEOUT
        )
        try:
            conn.request("GET", "/api/test-only/boom")
            first = conn.getresponse()
            answer: dict[str, Any] = httpx.Response(500, content=first.read()).json()
            assert first.status == 500
            assert answer == {"detail": "Internal server error."}
            assert conn.sock is not None
            local = conn.sock.getsockname()
            conn.request("GET", "/api/health")
            second = conn.getresponse()
            second.read()
            assert second.status == 200
            # Same local port: the same TCP connection, not a silent reconnect.
            assert conn.sock is not None and conn.sock.getsockname() == local
        finally:
            conn.close()
