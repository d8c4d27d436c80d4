"""The list queries, as the API runs them (role `authenticated`, under row-level security),
are planned on the list indexes, never as a scan of the whole table: on 50,000 generations
(the caller has 5,000) page 1, a deep page, a cursor page, a status filter and a search each
read by the index that matches the list's order (a search walks it and stops when the page is
full, never sorting every match), and so does each count."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
import pytest

from tests.support.postgres import migrated_database
from utter.db import Database
from utter.db.pool import Connection
from utter.db.queries import generations, voices
from utter.db.queries.paging import Cursor

CALLER = uuid.UUID("00000000-0000-4000-8000-000000000001")


class _Explaining:
    """Stands in for a connection: each query is EXPLAINed on the real one instead of run,
    and answers with no rows."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.plans: list[str] = []

    async def execute(self, query: bytes | str, params: Any = None) -> _Explaining:
        if isinstance(query, str):  # a setting for the transaction, not a query
            await self._conn.execute(query, params)
            return self
        cur = await self._conn.execute(b"explain " + query, params)
        self.plans.append("\n".join(row["QUERY PLAN"] for row in await cur.fetchall()))
        return self

    async def fetchall(self) -> list[dict[str, Any]]:
        # More than any page holds, so the page is full and its total is counted.
        return [{"id": uuid.UUID(int=0), "created_at": datetime(2026, 1, 1, tzinfo=UTC)}] * 101

    async def fetchone(self) -> dict[str, Any]:
        return {"n": 0}


@pytest.fixture(scope="module")
async def seeded(pg_server_url: str) -> AsyncIterator[Database]:
    url = migrated_database(pg_server_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email) select case when i = 0 then %s"
            " else gen_random_uuid() end, 'authenticated', 'authenticated', 'u' || i || '@x.test'"
            " from generate_series(0, 49) i",
            (CALLER,),
        )
        conn.execute(
            "create temp table owners as"
            " select id, row_number() over (order by id <> %s, id) - 1 as n from auth.users",
            (CALLER,),
        )
        conn.execute(
            "insert into public.voices (user_id, name, source, created_at)"
            " select o.id, 'Voice ' || i || ' ' || md5(i::text) || ' the quick brown fox',"
            " case when i % 2 = 0 then 'designed' else 'uploaded' end,"
            " now() - i * interval '1 minute'"
            " from generate_series(1, 20000) i join owners o"
            " on o.n = case when i <= 2000 then 0 else 1 + i % 49 end"
        )
        conn.execute(
            "insert into public.generations (user_id, voice_id, text, status, created_at)"
            " select o.id, (select v.id from public.voices v where v.user_id = o.id limit 1),"
            " 'Line ' || i || ' ' || md5(i::text) || ' the quick brown fox',"
            " case when i % 10 = 0 then 'failed' else 'pending' end,"
            " now() - i * interval '1 second'"
            " from generate_series(1, 50000) i join owners o"
            " on o.n = case when i <= 5000 then 0 else 1 + i % 49 end"
        )
        conn.execute("vacuum analyze public.generations")
        conn.execute("vacuum analyze public.voices")
    async with Database(url, min_size=1, max_size=2) as database:
        yield database


async def _plans(db: Database, query: Any, **kwargs: Any) -> list[str]:
    async with db.as_user(CALLER) as conn:
        explaining = _Explaining(conn)
        await query(cast(Connection, explaining), user_id=CALLER, **kwargs)
    return explaining.plans


AFTER = Cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.UUID(int=0))


@pytest.mark.parametrize(
    ("kwargs", "index"),
    [
        ({"offset": 0}, "idx_generations_user_created_id"),
        ({"offset": 3980}, "idx_generations_user_created_id"),
        ({"offset": 0, "cursor": AFTER}, "idx_generations_user_created_id"),
        ({"offset": 0, "status": "failed"}, "idx_generations_user_status_created_id"),
        (
            {"offset": 0, "search": "the quick brown fox"},
            "idx_generations_user_created_id",
        ),
    ],
    ids=["page-1", "page-200", "cursor", "status", "search"],
)
async def test_generation_pages_and_counts_read_by_index(
    seeded: Database, kwargs: dict[str, Any], index: str
) -> None:
    arguments: dict[str, Any] = {"search": None, "status": None, "limit": 20, **kwargs}
    page, count = await _plans(seeded, generations.list_page, **arguments)
    for plan in (page, count):
        assert "Seq Scan on generations" not in plan, plan
        assert "Seq Scan on voices" not in plan, plan
    assert index in page, page
    assert "Sort Key: g_1.created_at" not in page, page
    assert "idx_generations_" in count, count


@pytest.mark.parametrize(
    ("kwargs", "index"),
    [
        ({"offset": 0}, "idx_voices_user_created_id"),
        ({"offset": 1000}, "idx_voices_user_created_id"),
        ({"offset": 0, "cursor": AFTER}, "idx_voices_user_created_id"),
        ({"offset": 0, "source": "designed"}, "idx_voices_user_source_created_id"),
        ({"offset": 0, "search": "the quick brown fox"}, "idx_voices_user_created_id"),
    ],
    ids=["page-1", "deep-page", "cursor", "source", "search"],
)
async def test_voice_pages_and_counts_read_by_index(
    seeded: Database, kwargs: dict[str, Any], index: str
) -> None:
    arguments: dict[str, Any] = {"search": None, "source": None, "limit": 20, **kwargs}
    page, count = await _plans(seeded, voices.list_page, **arguments)
    for plan in (page, count):
        assert "Seq Scan on voices" not in plan, plan
    assert index in page, page
    assert "Sort Key: v_1.created_at" not in page, page
    assert "idx_voices_" in count, count


def test_stored_peaks_become_one_byte_per_slice(pg_server_url: str) -> None:
    """0008 converts the real[] peaks of existing generations: at most 200 slices, each the
    loudest of the old values it covers, as 0..255; empty stays empty, null stays null."""
    from tests.support.postgres import create_database
    from utter.db.migrate import load_migrations, migrate

    url = create_database(pg_server_url)
    migrate(url, [m for m in load_migrations() if m.version < "0008"])
    old = [round(0.001 * i, 3) for i in range(400)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
            " 'authenticated', 'peaks@x.test')",
            (CALLER,),
        )
        for peaks in (old, [0.25, 1.0, 0.5], [], None):
            conn.execute(
                "insert into public.generations (user_id, text, peaks) values (%s, %s, %s)",
                (CALLER, str(peaks and len(peaks)), peaks),
            )
    migrate(url)
    with psycopg.connect(url) as conn:
        stored = dict(conn.execute("select text, peaks from public.generations").fetchall())
    assert stored["400"] == bytes(round(max(old[2 * i], old[2 * i + 1]) * 255) for i in range(200))
    assert stored["3"] == bytes([64, 255, 128])
    assert stored["[]"] == b"" and stored["None"] is None
