"""Signed URLs are built from PUBLIC_URL, or from the request's Host only when that Host is
allowed (UTTER_ALLOWED_HOSTS): a forged Host never reaches a URL we hand out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import sign_up
from tests.support.server import app_settings
from utter.app import create_app
from utter.db import Database

FIELDS = {"name": "My voice", "language": "English", "transcript": "Hello there."}


@asynccontextmanager
async def app_client(
    db: Database, data_dir: Path, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings(data_dir, **settings), db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


async def upload_url(client: httpx.AsyncClient, headers: dict[str, str], host: str) -> str:
    answer = await client.post(
        "/api/clone/upload-url", json=FIELDS, headers={**headers, "Host": host}
    )
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["upload_url"]
    return url


async def test_a_forged_host_never_appears_in_a_signed_url(db: Database, tmp_path: Path) -> None:
    async with app_client(db, tmp_path, host="127.0.0.1", port=8000) as client:
        user = await sign_up(client)
        for forged in ("evil.example", "evil.example:8000", "127.0.0.1:8000.evil.example"):
            url = await upload_url(client, user.headers, forged)
            assert "evil" not in url
            assert url.startswith("http://127.0.0.1:8000/storage/v1/"), url


async def test_the_default_allowed_hosts_are_this_servers_own_names(
    db: Database, tmp_path: Path
) -> None:
    async with app_client(db, tmp_path, host="0.0.0.0", port=8000) as client:
        user = await sign_up(client)
        for allowed in ("localhost:8000", "127.0.0.1:8000", "LOCALHOST:8000", "0.0.0.0:8000"):
            url = await upload_url(client, user.headers, allowed)
            assert url.lower().startswith(f"http://{allowed.lower()}/storage/v1/"), url
        # Another port is another site.
        url = await upload_url(client, user.headers, "localhost:9999")
        assert url.startswith("http://0.0.0.0:8000/storage/v1/"), url


async def test_listed_hosts_are_used_and_public_url_wins(db: Database, tmp_path: Path) -> None:
    async with app_client(
        db, tmp_path / "a", allowed_hosts="studio.example.test, studio.example.test:8443"
    ) as client:
        user = await sign_up(client)
        url = await upload_url(client, user.headers, "studio.example.test")
        assert url.startswith("http://studio.example.test/storage/v1/"), url
        url = await upload_url(client, user.headers, "studio.example.test:8443")
        assert url.startswith("http://studio.example.test:8443/storage/v1/"), url
        # Not listed, though it is the default's: the list replaces the default.
        url = await upload_url(client, user.headers, "localhost:8000")
        assert url.startswith("http://127.0.0.1:8000/storage/v1/"), url

    async with app_client(
        db, tmp_path / "b", public_url="https://voices.example.test/", allowed_hosts="x.test"
    ) as client:
        user = await sign_up(client)
        url = await upload_url(client, user.headers, "x.test")
        assert url.startswith("https://voices.example.test/storage/v1/"), url
