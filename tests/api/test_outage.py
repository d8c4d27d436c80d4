"""While the database is unreachable the API says so at once, and heals when it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import sign_up
from tests.support.postgres import create_database
from tests.support.server import app_settings, serve
from utter.db import Database
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate
from utter.db.pool import DatabaseUnavailable
from utter.errors import RETRY_AFTER_SECONDS, Unavailable

pytestmark = pytest.mark.slow

DB_TIMEOUT = 2.0


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A Postgres of this test's own, which the test stops and starts."""
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_routes_answer_503_with_retry_after_while_the_database_is_down_then_recover(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = create_database(own_postgres.uri)
    migrate(url)
    settings = app_settings(
        tmp_path / "data", database_url=url, db_timeout_seconds=DB_TIMEOUT, db_pool_min=2
    )
    with serve(lambda base: settings.model_copy(update={"public_url": base})) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            user = await sign_up(client)
            assert (await client.get("/api/voices", headers=user.headers)).status_code == 200
            assert (await client.get("/api/health")).json() == {"ok": True}

            own_postgres.stop()
            for path in ("/api/voices", "/api/generations", "/api/tasks", "/api/me"):
                started = time.monotonic()
                response = await client.get(path, headers=user.headers)
                waited = time.monotonic() - started
                assert response.status_code == 503, (path, response.text)
                assert response.json()["detail"].startswith("The database is not available")
                assert int(response.headers["retry-after"]) > 0
                # Bounded by the configured wait for a connection, not a 30 s hang.
                assert waited < DB_TIMEOUT * 3, (path, waited)
            # /auth/v1 too: a lost database is the common 503, not one of GoTrue's shapes.
            signing_in = await client.post(
                "/auth/v1/token",
                params={"grant_type": "password"},
                json={"email": user.email, "password": user.password},
            )
            assert signing_in.status_code == 503, signing_in.text
            assert signing_in.json() == {
                "detail": "The database is not available right now. Please try again in a moment."
            }
            assert int(signing_in.headers["retry-after"]) > 0
            health = await client.get("/api/health")
            assert health.status_code == 503
            assert health.json() == {"ok": False, "database": "unreachable"}

            own_postgres.start()
            deadline = time.monotonic() + 30
            while (await client.get("/api/health")).status_code != 200:
                assert time.monotonic() < deadline, "the API did not see the database return"
                await asyncio.sleep(0.2)
            # Every pooled connection died with the server; none of them fails a request now.
            for _ in range(5):
                response = await client.get("/api/voices", headers=user.headers)
                assert response.status_code == 200, response.text


async def test_a_lost_database_is_a_domain_error_that_says_when_to_retry(
    own_postgres: EmbeddedPostgres,
) -> None:
    url = create_database(own_postgres.uri)
    async with Database(url, min_size=1, max_size=2, timeout=DB_TIMEOUT) as db:
        async with db.as_owner() as conn:
            await conn.execute("select 1")
        own_postgres.stop()
        # Whether a pooled connection breaks or none can be had, callers see one error.
        for _ in range(2):
            with pytest.raises(DatabaseUnavailable) as lost:
                async with db.as_owner() as conn:
                    await conn.execute("select 1")
            assert isinstance(lost.value, Unavailable)
            assert lost.value.retry_after == RETRY_AFTER_SECONDS
            assert lost.value.message == (
                "The database is not available right now. Please try again in a moment."
            )
