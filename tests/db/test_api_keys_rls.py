"""public.api_keys (migration 0010) under row-level security and its grants: an owner reads
their own keys but never a hash, another user and anon read nothing, and no client role
writes (keys are made and revoked by the server); `utter.touch_api_key` is the server's."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from psycopg import errors

from tests.support.users import DbUser
from utter.db import Database


async def _key(db: Database, owner: DbUser) -> uuid.UUID:
    async with db.as_service() as conn:
        cur = await conn.execute(
            "insert into public.api_keys (user_id, name, prefix, key_hash)"
            " values (%s, 'laptop', 'sk-utter-abcdefg', %s) returning id",
            (owner.id, hashlib.sha256(uuid.uuid4().bytes).digest()),
        )
        row = await cur.fetchone()
    assert row is not None
    key_id: uuid.UUID = row["id"]
    return key_id


async def _visible_ids(db: Database, who: DbUser | None) -> list[uuid.UUID]:
    query = "select id from public.api_keys"
    if who is None:
        async with db.as_anon() as conn:
            rows = await (await conn.execute(query)).fetchall()
    else:
        async with db.as_user(who.id) as conn:
            rows = await (await conn.execute(query)).fetchall()
    return [row["id"] for row in rows]


async def test_the_owner_reads_their_keys_another_user_none(
    db: Database, owner: DbUser, other: DbUser
) -> None:
    key_id = await _key(db, owner)
    assert await _visible_ids(db, owner) == [key_id]
    assert await _visible_ids(db, other) == []
    async with db.as_user(owner.id) as conn:
        cur = await conn.execute(
            "select id, user_id, name, prefix, created_at, last_used_at from public.api_keys"
        )
        assert [row["name"] for row in await cur.fetchall()] == ["laptop"]


async def test_anon_reads_nothing(db: Database, owner: DbUser) -> None:
    await _key(db, owner)
    with pytest.raises(errors.InsufficientPrivilege):
        await _visible_ids(db, None)


CLIENT_STATEMENTS = [
    ("select key_hash from public.api_keys", "hash select"),
    ("select * from public.api_keys", "select star (includes the hash)"),
    (
        "insert into public.api_keys (user_id, name, prefix, key_hash)"
        " values ({uid}, 'x', 'sk-utter-x', sha256('x'))",
        "insert",
    ),
    ("update public.api_keys set name = 'x' where user_id = {uid}", "update"),
    ("update public.api_keys set last_used_at = null where user_id = {uid}", "touch"),
    ("delete from public.api_keys where user_id = {uid}", "delete"),
    ("select utter.touch_api_key(gen_random_uuid(), {uid})", "touch function"),
]


@pytest.mark.parametrize(("sql", "label"), CLIENT_STATEMENTS, ids=[s[1] for s in CLIENT_STATEMENTS])
@pytest.mark.parametrize("role", ["authenticated", "anon"])
async def test_client_roles_neither_read_hashes_nor_write(
    db: Database, owner: DbUser, sql: str, label: str, role: str
) -> None:
    await _key(db, owner)
    statement = sql.format(uid=f"'{owner.id}'::uuid").encode()
    with pytest.raises(errors.InsufficientPrivilege):
        if role == "anon":
            async with db.as_anon() as conn:
                await conn.execute(statement)
        else:
            async with db.as_user(owner.id) as conn:
                await conn.execute(statement)
    async with db.as_service() as conn:
        cur = await conn.execute(
            "select count(*) as n from public.api_keys where user_id = %s and name = 'laptop'"
            " and last_used_at is null",
            (owner.id,),
        )
        assert (await cur.fetchone() or {})["n"] == 1


async def test_touch_reports_the_key_and_writes_at_most_once_a_minute(
    db: Database, owner: DbUser, other: DbUser
) -> None:
    key_id = await _key(db, owner)

    async def touch(user: DbUser) -> bool:
        async with db.as_service() as conn:
            cur = await conn.execute("select utter.touch_api_key(%s, %s) as ok", (key_id, user.id))
            return bool((await cur.fetchone() or {})["ok"])

    async def last_used() -> object:
        async with db.as_service() as conn:
            cur = await conn.execute(
                "select last_used_at from public.api_keys where id = %s", (key_id,)
            )
            return (await cur.fetchone() or {})["last_used_at"]

    assert await touch(other) is False  # not theirs
    assert await last_used() is None
    assert await touch(owner) is True
    first = await last_used()
    assert first is not None
    assert await touch(owner) is True
    assert await last_used() == first
    async with db.as_service() as conn:
        await conn.execute("delete from public.api_keys where id = %s", (key_id,))
    assert await touch(owner) is False


async def test_a_deleted_user_takes_their_keys_along(db: Database, owner: DbUser) -> None:
    await _key(db, owner)
    async with db.as_owner() as conn:
        await conn.execute("delete from auth.users where id = %s", (owner.id,))
        cur = await conn.execute(
            "select count(*) as n from public.api_keys where user_id = %s", (owner.id,)
        )
        assert (await cur.fetchone() or {})["n"] == 0
