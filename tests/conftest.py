"""Fixtures every test may use: one Postgres for the whole run, a migrated database, a pool;
and the test tiers (docs/testing.md).

Every fixture that starts something (Postgres, CPU processes, a server) is requested by the
tests that need it and started on first use, so importing this file starts nothing and the
fast tier never starts Postgres. The app's modules are imported inside the fixtures too: a
fast run that needs none of them does not pay for importing them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.tiers import apply_tiers, outside_the_fast_tier

if TYPE_CHECKING:
    from fastapi import FastAPI

    from utter.cpu import CpuPool
    from utter.db import Database


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m unit` alone does not even import the modules that hold no fast test, so the fast
    loop spends no time collecting the integration suite."""
    if config.getoption("markexpr", "") == "unit" and outside_the_fast_tier(collection_path):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    apply_tiers(items)


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Postgres server for the run: $UTTER_TEST_DATABASE_URL, or the embedded wheel."""
    from utter.db.embedded import EmbeddedPostgres

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
    from tests.support.postgres import create_database
    from utter.db.migrate import migrate

    url = create_database(pg_server_url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    from utter.db import Database

    async with Database(database_url, min_size=1, max_size=8) as database:
        yield database


@pytest.fixture(scope="session")
def cpu() -> Iterator[CpuPool]:
    """The CPU processes of every in-process app of the run (spawned once, on first use)."""
    from utter.app import CPU_MODULES
    from utter.cpu import CpuPool

    pool = CpuPool(2, niceness=0, preload=CPU_MODULES)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def app(db: Database, cpu: CpuPool, tmp_path: Path) -> FastAPI:
    """Utter on embedded defaults, sharing the run's pool and CPU processes, with a private
    data dir."""
    from tests.support.server import app_settings
    from utter.app import create_app

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
    from tests.support.server import app_settings, serve

    data_dir = tmp_path_factory.mktemp("live-server")
    with serve(
        lambda url: app_settings(data_dir, database_url=database_url, public_url=url)
    ) as url:
        yield url
