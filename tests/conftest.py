"""Fixtures every test may use: one Postgres for the whole run, a migrated database, a pool."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import create_database
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
