"""Personal API keys (public.api_keys): the owner's list, create, revoke, and the lookups
that authenticate a request by a key's hash.

The list runs as the caller (RLS and column grants: no hash is readable); writes and the
lookups run as the server. `utter.touch_api_key` (migration 0010) is the one place that
says whether a key still exists and notes its use, at most once a minute.
"""

from __future__ import annotations

from typing import Any, LiteralString
from uuid import UUID

from utter.db.pool import Connection

Row = dict[str, Any]

# What every list and create answers: never the hash.
_COLUMNS = "id, name, prefix, created_at, last_used_at"

# True while the key (id, user) exists, for `Database.as_user_if`; notes the key's use.
KEY_IN_USE: LiteralString = "utter.touch_api_key(%s, %s)"


async def list_keys(conn: Connection, user_id: UUID) -> list[Row]:
    """The user's keys, newest first."""
    cur = await conn.execute(
        f"select {_COLUMNS} from public.api_keys where user_id = %s"
        " order by created_at desc, id desc",
        (user_id,),
    )
    return await cur.fetchall()


async def count_keys(conn: Connection, user_id: UUID) -> int:
    cur = await conn.execute(
        "select count(*) as n from public.api_keys where user_id = %s", (user_id,)
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def insert_key(
    conn: Connection, *, user_id: UUID, name: str, prefix: str, key_hash: bytes
) -> Row:
    cur = await conn.execute(
        "insert into public.api_keys (user_id, name, prefix, key_hash)"
        f" values (%s, %s, %s, %s) returning {_COLUMNS}",
        (user_id, name, prefix, key_hash),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def delete_key(conn: Connection, *, user_id: UUID, key_id: UUID) -> bool:
    """Revoke one of `user_id`'s keys; False when no such key is theirs."""
    cur = await conn.execute(
        "delete from public.api_keys where id = %s and user_id = %s returning id",
        (key_id, user_id),
    )
    return await cur.fetchone() is not None


async def key_holder(conn: Connection, key_hash: bytes) -> Row | None:
    """`{"id", "user_id"}` of the key with this hash, its use noted; None when there is none."""
    # Materialized: the key is found by its hash first, then only that one is touched.
    cur = await conn.execute(
        "with found as materialized ("
        "  select id, user_id from public.api_keys where key_hash = %s"
        ") select id, user_id from found where utter.touch_api_key(id, user_id)",
        (key_hash,),
    )
    return await cur.fetchone()
