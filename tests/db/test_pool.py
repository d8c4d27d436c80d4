"""as_user / as_service: identities stay inside their transaction."""

from __future__ import annotations

import asyncio

import psycopg

from tests.support.postgres import create_database
from tests.support.users import make_user
from utter.db import Database


async def test_as_user_runs_as_authenticated_with_the_callers_claims(db: Database) -> None:
    user = await make_user(db)
    async with db.as_user(user.id) as c:
        row = await (
            await c.execute("select current_user as role, auth.uid() as uid, auth.role() as r")
        ).fetchone()
    assert row == {"role": "authenticated", "uid": user.id, "r": "authenticated"}


async def test_as_service_runs_as_service_role(db: Database) -> None:
    async with db.as_service() as c:
        row = await (await c.execute("select current_user as role, auth.uid() as uid")).fetchone()
    assert row == {"role": "service_role", "uid": None}


async def test_identity_does_not_leak_to_the_next_borrower_of_a_connection(
    database_url: str,
) -> None:
    # A pool of one connection: every transaction below reuses the same session.
    async with Database(database_url, min_size=1, max_size=1) as db:
        user = await make_user(db)
        async with db.as_user(user.id):
            pass
        async with db.as_owner() as c:
            row = await (
                await c.execute("select current_user = session_user as is_owner, auth.uid() as uid")
            ).fetchone()
    assert row == {"is_owner": True, "uid": None}


async def test_a_failed_user_transaction_rolls_back(db: Database) -> None:
    user = await make_user(db)
    try:
        async with db.as_service() as c:
            await c.execute(
                "insert into voices (user_id, name, source) values (%s, 'kept?', 'uploaded')",
                (user.id,),
            )
            raise RuntimeError("handler failed after the insert")
    except RuntimeError:
        pass
    async with db.as_user(user.id) as c:
        row = await (await c.execute("select count(*) as n from voices")).fetchone()
    assert row == {"n": 0}


async def test_concurrent_users_each_see_their_own_identity(db: Database) -> None:
    users = [await make_user(db) for _ in range(6)]

    async def whoami(user_id: object) -> object:
        async with db.as_user(user_id) as c:  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
            row = await (await c.execute("select auth.uid() as uid")).fetchone()
            return None if row is None else row["uid"]

    seen = await asyncio.gather(*(whoami(u.id) for u in users))
    assert seen == [u.id for u in users]


async def test_a_connection_that_died_while_idle_is_replaced_not_reported(
    pg_server_url: str,
) -> None:
    """After the server restarts, every pooled connection is dead but looks idle. The next
    callers to take one must get a fresh connection, not an outage: a worker claiming a job
    at that moment would otherwise lose the job."""
    url = create_database(pg_server_url)
    async with Database(url, min_size=2, max_size=2) as db:
        async with db.as_owner() as c, db.as_owner() as d:  # both connections made and used
            await c.execute("select 1")
            await d.execute("select 1")
        with psycopg.connect(url, autocommit=True) as admin:
            killed = admin.execute(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            ).fetchone()
        assert killed == (2,)
        for _ in range(3):
            async with db.as_owner() as c:
                row = await (await c.execute("select 1 as one")).fetchone()
            assert row == {"one": 1}
