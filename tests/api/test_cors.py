"""CORS as existing clients expect it: allow-list with the "first entry" fallback,
Vary: Origin, fixed allow-headers, methods and max-age, and 204 for every OPTIONS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import app_settings
from utter.api.cors import CorsMiddleware
from utter.app import create_app
from utter.db import Database

SPA = "https://utter.example.com"
DEV = "http://localhost:5173"


@pytest.fixture
async def listed(db: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings(tmp_path, cors_allowed_origins=f"{SPA}, {DEV}"), db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_fixed_headers(response: httpx.Response) -> None:
    assert response.headers["access-control-allow-headers"] == (
        "authorization, x-client-info, apikey, content-type"
    )
    assert response.headers["access-control-allow-methods"] == (
        "GET, POST, PUT, DELETE, PATCH, OPTIONS"
    )
    assert response.headers["access-control-max-age"] == "86400"


async def test_default_allows_any_origin(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"Origin": "https://anywhere.test"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "origin" not in response.headers.get("vary", "").lower()
    assert_fixed_headers(response)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(SPA, SPA), (DEV, DEV), ("https://evil.test", SPA), (None, SPA)],
)
async def test_allow_list_echoes_listed_origins_else_the_first(
    listed: httpx.AsyncClient, origin: str | None, allowed: str
) -> None:
    headers = {"Origin": origin} if origin else {}
    response = await listed.get("/api/health", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == allowed
    assert "Origin" in response.headers["vary"]
    assert_fixed_headers(response)


@pytest.mark.parametrize("path", ["/api/profile", "/api/anything/at/all", "/auth/v1/token", "/"])
async def test_every_options_request_is_204(listed: httpx.AsyncClient, path: str) -> None:
    response = await listed.options(
        path, headers={"Origin": DEV, "Access-Control-Request-Method": "PATCH"}
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == DEV
    assert response.headers["access-control-allow-methods"] == (
        "GET, POST, PUT, DELETE, PATCH, OPTIONS"
    )


async def test_errors_carry_cors_headers_too(listed: httpx.AsyncClient) -> None:
    response = await listed.get("/api/usage", headers={"Origin": DEV})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == DEV


async def test_auth_routes_also_allow_the_supabase_version_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/auth/v1/token")
    assert "x-supabase-api-version" in response.headers["access-control-allow-headers"]


def test_origin_rule() -> None:
    assert CorsMiddleware(app=None, allowed_origins="").allow_origin("https://x.test") == "*"  # type: ignore[arg-type]
    both = CorsMiddleware(app=None, allowed_origins=f"{SPA},*")  # type: ignore[arg-type]
    assert both.allow_origin("https://x.test") == "*"
