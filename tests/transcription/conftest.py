"""A stand-in for a remote transcription API, served over real HTTP on localhost.

The remote providers (Mistral, OpenAI) cannot be reached from tests, so this server
plays their part at the HTTP boundary: the real client code builds and sends the
multipart request, and the server records exactly what arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support.server import serve_asgi


@dataclass
class Received:
    path: str
    authorization: str | None
    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class FakeProvider:
    """Answers every POST with `status` and `body` (a dict as JSON, a str as text)
    after `delay` seconds, and keeps each request in `received`."""

    url: str
    status: int = 200
    body: Any = field(default_factory=lambda: {"text": " hello world ", "language": "en"})
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def reset(self) -> None:
        self.status, self.delay = 200, 0.0
        self.body = {"text": " hello world ", "language": "en"}
        self.received.clear()

    async def handle(self, request: Request) -> Response:
        form = await request.form()
        fields: dict[str, str] = {}
        filename = content_type = None
        data = b""
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields[key] = value
            elif key == "file":
                filename, content_type = value.filename, value.content_type
                data = await value.read()
        self.received.append(
            Received(
                request.url.path,
                request.headers.get("authorization"),
                fields,
                filename,
                content_type,
                data,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if isinstance(self.body, str):
            return PlainTextResponse(self.body, status_code=self.status)
        return JSONResponse(self.body, status_code=self.status)


@pytest.fixture(scope="session")
def fake_provider_server() -> Iterator[FakeProvider]:
    provider = FakeProvider(url="")

    def make_app(url: str) -> Starlette:
        provider.url = url
        return Starlette(
            routes=[Route("/v1/audio/transcriptions", provider.handle, methods=["POST"])]
        )

    with serve_asgi(make_app, lifespan="off"):
        yield provider


@pytest.fixture
def fake_provider(fake_provider_server: FakeProvider) -> FakeProvider:
    fake_provider_server.reset()
    return fake_provider_server
