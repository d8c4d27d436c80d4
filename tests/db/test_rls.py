"""Row-level security and grants in action: the owner, another user and anon,
plus cascades, triggers, the poll RPC and stale-task detection."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg import errors

from tests.support.users import DbUser, make_user
from utter.db import Database


async def _one(db: Database, sql: str, *params: object) -> Any:
    async with db.as_service() as c:
        row = await (await c.execute(sql.encode(), params)).fetchone()
    assert row is not None
    return next(iter(row.values()))


async def _seed(db: Database, owner: DbUser) -> dict[str, uuid.UUID]:
    """One of everything for `owner`, written as the server would (service role)."""
    voice = await _one(
        db,
        "insert into voices (user_id, name, source) values (%s, 'v', 'uploaded') returning id",
        owner.id,
    )
    generation = await _one(
        db,
        "insert into generations (user_id, voice_id, text) values (%s, %s, 'hi') returning id",
        owner.id,
        voice,
    )
    task = await _one(
        db,
        "insert into tasks (user_id, type, generation_id, voice_id, status)"
        " values (%s, 'generate', %s, %s, 'completed') returning id",
        owner.id,
        generation,
        voice,
    )
    await _one(
        db,
        "insert into storage.objects (bucket_id, name, owner) values"
        " ('references', %s, %s) returning id",
        f"{owner.id}/{voice}/reference.wav",
        owner.id,
    )
    await _one(
        db,
        "insert into storage.objects (bucket_id, name, owner) values"
        " ('generations', %s, %s) returning id",
        f"{owner.id}/{generation}.wav",
        owner.id,
    )
    return {"voice": voice, "generation": generation, "task": task}


async def _visible(db: Database, who: DbUser | None, table: str, row_id: uuid.UUID) -> int:
    query = f"select count(*) as n from {table} where id = %s".encode()
    if who is None:
        async with db.as_anon() as c:
            return int((await (await c.execute(query, (row_id,))).fetchone() or {"n": 0})["n"])
    async with db.as_user(who.id) as c:
        return int((await (await c.execute(query, (row_id,))).fetchone() or {"n": 0})["n"])


@pytest.mark.parametrize("table", ["voices", "generations", "tasks"])
async def test_owner_sees_own_rows_other_user_sees_none(
    db: Database, owner: DbUser, other: DbUser, table: str
) -> None:
    ids = await _seed(db, owner)
    row_id = ids[table[:-1]]
    assert await _visible(db, owner, f"public.{table}", row_id) == 1
    assert await _visible(db, other, f"public.{table}", row_id) == 0


@pytest.mark.parametrize("table", ["profiles", "voices", "generations", "tasks", "usage_daily"])
async def test_anon_cannot_read_any_table(db: Database, owner: DbUser, table: str) -> None:
    await _seed(db, owner)
    with pytest.raises(errors.InsufficientPrivilege):
        async with db.as_anon() as c:
            await c.execute(f"select count(*) from public.{table}".encode())


async def test_owner_sees_only_own_daily_usage(db: Database, owner: DbUser, other: DbUser) -> None:
    row_id = await _one(
        db,
        "insert into usage_daily (user_id, day, characters) values (%s, current_date, 12)"
        " returning id",
        owner.id,
    )
    assert await _visible(db, owner, "public.usage_daily", row_id) == 1
    assert await _visible(db, other, "public.usage_daily", row_id) == 0


async def test_owner_sees_only_own_profile(db: Database, owner: DbUser, other: DbUser) -> None:
    async with db.as_user(owner.id) as c:
        rows = await (await c.execute("select id from profiles")).fetchall()
    assert [r["id"] for r in rows] == [owner.id]
    assert await _visible(db, other, "public.profiles", owner.id) == 0


async def test_a_user_with_no_claims_sees_nothing(db: Database, owner: DbUser) -> None:
    await _seed(db, owner)
    async with db.as_owner() as c:
        await c.execute("set local role authenticated")
        row = await (await c.execute("select count(*) as n from voices")).fetchone()
    assert row == {"n": 0}


@pytest.mark.parametrize("table", ["voices", "generations"])
async def test_owner_can_delete_own_rows_other_user_deletes_nothing(
    db: Database, owner: DbUser, other: DbUser, table: str
) -> None:
    ids = await _seed(db, owner)
    row_id = ids[table[:-1]]
    async with db.as_user(other.id) as c:
        cur = await c.execute(f"delete from {table} where id = %s".encode(), (row_id,))
        assert cur.rowcount == 0
    assert await _visible(db, owner, f"public.{table}", row_id) == 1
    async with db.as_user(owner.id) as c:
        cur = await c.execute(f"delete from {table} where id = %s".encode(), (row_id,))
        assert cur.rowcount == 1


REVOKED_WRITES = [
    ("update profiles set credits_remaining = 1000000 where id = {uid}", "profiles update"),
    ("insert into profiles (id) values (gen_random_uuid())", "profiles insert"),
    ("delete from profiles where id = {uid}", "profiles delete"),
    ("insert into voices (user_id, name, source) values ({uid}, 'x', 'uploaded')", "voices insert"),
    ("update voices set name = 'x' where user_id = {uid}", "voices update"),
    ("insert into generations (user_id, text) values ({uid}, 'x')", "generations insert"),
    ("update generations set status = 'completed' where user_id = {uid}", "generations update"),
    ("insert into tasks (user_id, type) values ({uid}, 'generate')", "tasks insert"),
    ("update tasks set status = 'completed' where user_id = {uid}", "tasks update"),
    ("delete from tasks where user_id = {uid}", "tasks delete"),
    (
        "insert into usage_daily (user_id, day) values ({uid}, current_date)",
        "usage insert",
    ),
    ("update usage_daily set characters = 0 where user_id = {uid}", "usage update"),
    ("delete from usage_daily where user_id = {uid}", "usage delete"),
    ("select * from utter.upload_grants", "upload grants select"),
    ("update storage.objects set name = 'x' where owner = {uid}", "objects update"),
    ("delete from storage.objects where owner = {uid}", "objects delete"),
    ("insert into storage.buckets (id, name) values ('mine', 'mine')", "buckets insert"),
    ("select * from auth.users", "auth.users select"),
    ("select public.increment_task_modal_poll_count(gen_random_uuid(), {uid})", "poll rpc"),
    ("select public.fail_stale_tasks('0 s', '0 s')", "stale rpc"),
]


@pytest.mark.parametrize(("sql", "label"), REVOKED_WRITES, ids=[w[1] for w in REVOKED_WRITES])
async def test_revoked_writes_raise_42501_for_authenticated(
    db: Database, owner: DbUser, sql: str, label: str
) -> None:
    await _seed(db, owner)
    with pytest.raises(errors.InsufficientPrivilege) as caught:
        async with db.as_user(owner.id) as c:
            await c.execute(sql.format(uid=f"'{owner.id}'::uuid").encode())
    assert caught.value.sqlstate == "42501"


@pytest.mark.parametrize(("sql", "label"), REVOKED_WRITES, ids=[w[1] for w in REVOKED_WRITES])
async def test_revoked_writes_raise_42501_for_anon(
    db: Database, owner: DbUser, sql: str, label: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        async with db.as_anon() as c:
            await c.execute(sql.format(uid=f"'{owner.id}'::uuid").encode())


async def test_blocked_profile_update_leaves_the_row_unchanged(db: Database, owner: DbUser) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        async with db.as_user(owner.id) as c:
            await c.execute(
                "update profiles set subscription_tier = 'pro', credits_remaining = 99999"
                " where id = %s",
                (owner.id,),
            )
    async with db.as_user(owner.id) as c:
        row = await (
            await c.execute("select subscription_tier, credits_remaining from profiles")
        ).fetchone()
    assert row == {"subscription_tier": "free", "credits_remaining": 100}


async def test_new_user_gets_a_free_profile_with_100_credits(db: Database) -> None:
    user = await make_user(db)
    async with db.as_user(user.id) as c:
        row = await (
            await c.execute("select id, subscription_tier, credits_remaining from profiles")
        ).fetchone()
    assert row == {"id": user.id, "subscription_tier": "free", "credits_remaining": 100}


@pytest.mark.parametrize("table", ["profiles", "tasks"])
async def test_updated_at_is_forced_to_now(db: Database, owner: DbUser, table: str) -> None:
    ids = await _seed(db, owner)
    row_id = owner.id if table == "profiles" else ids["task"]
    async with db.as_service() as c:
        row = await (
            await c.execute(
                f"update {table} set updated_at = '2001-01-01' where id = %s"
                " returning updated_at, now() as now".encode(),
                (row_id,),
            )
        ).fetchone()
    assert row is not None
    assert row["updated_at"] == row["now"]


async def test_deleting_a_voice_nulls_generation_and_task_voice_id(
    db: Database, owner: DbUser
) -> None:
    ids = await _seed(db, owner)
    async with db.as_user(owner.id) as c:
        await c.execute("delete from voices where id = %s", (ids["voice"],))
        gen = await (
            await c.execute("select voice_id from generations where id = %s", (ids["generation"],))
        ).fetchone()
        task = await (
            await c.execute("select voice_id from tasks where id = %s", (ids["task"],))
        ).fetchone()
    assert gen == {"voice_id": None}
    assert task == {"voice_id": None}


async def test_deleting_a_generation_nulls_task_generation_id(db: Database, owner: DbUser) -> None:
    ids = await _seed(db, owner)
    async with db.as_user(owner.id) as c:
        await c.execute("delete from generations where id = %s", (ids["generation"],))
        task = await (
            await c.execute("select generation_id from tasks where id = %s", (ids["task"],))
        ).fetchone()
    assert task == {"generation_id": None}


async def test_deleting_a_user_cascades_to_everything_they_own(db: Database, owner: DbUser) -> None:
    ids = await _seed(db, owner)
    async with db.as_owner() as c:
        await c.execute("delete from auth.users where id = %s", (owner.id,))
        for table, key in (
            ("profiles", owner.id),
            ("voices", ids["voice"]),
            ("generations", ids["generation"]),
            ("tasks", ids["task"]),
        ):
            row = await (
                await c.execute(f"select count(*) as n from {table} where id = %s".encode(), (key,))
            ).fetchone()
            assert row == {"n": 0}, table


async def test_poll_count_rpc_returns_one_then_two(db: Database, owner: DbUser) -> None:
    ids = await _seed(db, owner)
    async with db.as_service() as c:
        first = await (
            await c.execute(
                "select public.increment_task_modal_poll_count(%s, %s) as n",
                (ids["task"], owner.id),
            )
        ).fetchone()
        second = await (
            await c.execute(
                "select public.increment_task_modal_poll_count(%s, %s) as n",
                (ids["task"], owner.id),
            )
        ).fetchone()
        wrong_user = await (
            await c.execute(
                "select public.increment_task_modal_poll_count(%s, %s) as n",
                (ids["task"], uuid.uuid4()),
            )
        ).fetchone()
    assert (first, second, wrong_user) == ({"n": 1}, {"n": 2}, {"n": None})


# One active generate per user, and stale tasks -----------------------------------------


async def _active_generate(db: Database, user: DbUser, status: str = "processing") -> uuid.UUID:
    generation = await _one(
        db,
        "insert into generations (user_id, text, status) values (%s, 'x', 'processing')"
        " returning id",
        user.id,
    )
    task: uuid.UUID = await _one(
        db,
        "insert into tasks (user_id, type, status, generation_id, started_at, heartbeat_at)"
        " values (%s, 'generate', %s, %s, now(), now()) returning id",
        user.id,
        status,
        generation,
    )
    return task


async def test_only_one_active_generate_task_per_user(
    db: Database, owner: DbUser, other: DbUser
) -> None:
    await _active_generate(db, owner)
    with pytest.raises(errors.UniqueViolation):
        await _active_generate(db, owner, status="pending")
    # Other users and other task types are not blocked.
    await _active_generate(db, other)
    await _one(
        db,
        "insert into tasks (user_id, type, status) values (%s, 'design_preview', 'pending')"
        " returning id",
        owner.id,
    )


async def test_stale_processing_task_is_failed_and_frees_the_guard(
    db: Database, owner: DbUser
) -> None:
    task = await _active_generate(db, owner)
    async with db.as_service() as c:
        # A live worker's task is left alone.
        fresh = await (await c.execute("select fail_stale_tasks('60 s', '1 h') as id")).fetchall()
        assert task not in [r["id"] for r in fresh]
        # The worker died: its last heartbeat is old.
        await c.execute(
            "update tasks set heartbeat_at = now() - interval '5 minutes' where id = %s", (task,)
        )
    async with db.as_service() as c:
        stale = await (await c.execute("select fail_stale_tasks('60 s', '1 h') as id")).fetchall()
        assert task in [r["id"] for r in stale]
        row = await (
            await c.execute(
                "select t.status, t.error, t.completed_at is not null as done, g.status as gstatus,"
                " g.error_message from tasks t join generations g on g.id = t.generation_id"
                " where t.id = %s",
                (task,),
            )
        ).fetchone()
    assert row is not None
    assert row["status"] == "failed" and row["done"]
    assert row["gstatus"] == "failed"
    assert "stopped responding" in row["error"]
    assert row["error_message"] == row["error"]
    # The user can start a new generation.
    await _active_generate(db, owner)


async def test_task_pending_too_long_is_failed(db: Database, owner: DbUser) -> None:
    task = await _one(
        db,
        "insert into tasks (user_id, type, status, created_at) values"
        " (%s, 'design_preview', 'pending', now() - interval '2 hours') returning id",
        owner.id,
    )
    async with db.as_service() as c:
        stale = await (await c.execute("select fail_stale_tasks('60 s', '1 h') as id")).fetchall()
    assert task in [r["id"] for r in stale]


# Storage catalogue ----------------------------------------------------------------------


async def test_storage_objects_visible_only_to_their_owner(
    db: Database, owner: DbUser, other: DbUser
) -> None:
    await _seed(db, owner)
    query = "select bucket_id from storage.objects where owner = %s order by bucket_id"
    async with db.as_user(owner.id) as c:
        mine = await (await c.execute(query, (owner.id,))).fetchall()
    async with db.as_user(other.id) as c:
        theirs = await (await c.execute(query, (owner.id,))).fetchall()
    assert [r["bucket_id"] for r in mine] == ["generations", "references"]
    assert theirs == []
    with pytest.raises(errors.InsufficientPrivilege):
        async with db.as_anon() as c:
            await c.execute(query, (owner.id,))


async def test_users_may_insert_references_only_under_their_own_folder(
    db: Database, owner: DbUser, other: DbUser
) -> None:
    insert = "insert into storage.objects (bucket_id, name, owner) values (%s, %s, %s)"
    async with db.as_user(owner.id) as c:
        await c.execute(insert, ("references", f"{owner.id}/v/reference.wav", owner.id))
    for bucket, name in (
        ("references", f"{other.id}/v/reference.wav"),  # someone else's folder
        ("generations", f"{owner.id}/g.wav"),  # a bucket users may not write
        ("references", "reference.wav"),  # no folder at all
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            async with db.as_user(owner.id) as c:
                await c.execute(insert, (bucket, name, owner.id))
