"""Fixtures every test may use: one Postgres for the whole run, a migrated database, a pool."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.postgres import create_database
from tests.support.server import app_settings, serve
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Postgres server for the run: $UTTER_TEST_DATABASE_URL, or the embedded wheel."""
    external = os.environ.get("UTTER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("embedded-pg")) / "data")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> str:
    """A database with every migration applied, shared by the run's tests."""
    url = create_database(pg_server_url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url, min_size=1, max_size=8) as database:
        yield database


@pytest.fixture(scope="session")
def cpu() -> Iterator[CpuPool]:
    """The CPU processes of every in-process app of the run (spawned once, on first use)."""
    pool = CpuPool(2, niceness=0)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def app(db: Database, cpu: CpuPool, tmp_path: Path) -> FastAPI:
    """Utter on embedded defaults, sharing the run's pool and CPU processes, with a private
    data dir."""
    return create_app(
        app_settings(tmp_path / "data", public_url="http://testserver"), db=db, cpu=cpu
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls `app` in-process (no server, no lifespan)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Utter served by uvicorn on a free port (its own pool and event loop, in a thread);
    yields its base URL. For real HTTP clients: the Supabase client, browsers."""
    data_dir = tmp_path_factory.mktemp("live-server")
    with serve(
        lambda url: app_settings(data_dir, database_url=database_url, public_url=url)
    ) as url:
        yield url
