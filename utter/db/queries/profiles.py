"""Profiles and account usage: reads under the caller's RLS, writes by the service role."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from utter.db.pool import Connection

Row = dict[str, Any]

PROFILE_COLUMNS = (
    "id, handle, display_name, avatar_url, subscription_tier, credits_remaining,"
    " created_at, updated_at"
)
EDITABLE = ("handle", "display_name", "avatar_url")


async def get(conn: Connection, user_id: UUID) -> Row | None:
    cur = await conn.execute(
        f"select {PROFILE_COLUMNS} from public.profiles where id = %s".encode(), (user_id,)
    )
    return await cur.fetchone()


async def create(conn: Connection, user_id: UUID) -> Row | None:
    """The profile the signup trigger would have made; the existing one if it did."""
    await conn.execute(
        "insert into public.profiles (id) values (%s) on conflict (id) do nothing", (user_id,)
    )
    return await get(conn, user_id)


async def update(conn: Connection, user_id: UUID, changes: dict[str, str | None]) -> Row | None:
    """Set the given editable columns; None when there is no such profile.
    Raises UniqueViolation when the handle is taken."""
    unknown = set(changes) - set(EDITABLE)
    if unknown or not changes:
        raise ValueError(f"not editable: {sorted(unknown) or 'nothing to change'}")
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in changes
    )
    query = sql.SQL("update public.profiles set {} where id = {} returning {}").format(
        assignments, sql.Placeholder("id"), sql.SQL(PROFILE_COLUMNS)
    )
    cur = await conn.execute(query, {**changes, "id": user_id})
    return await cur.fetchone()


async def usage(conn: Connection, user_id: UUID) -> Row:
    """How many voices and generations the user has, and the seconds of audio generated."""
    cur = await conn.execute(
        """
        select (select count(*) from public.voices where user_id = %(id)s) as voices,
               (select count(*) from public.generations where user_id = %(id)s) as generations,
               (select coalesce(sum(duration_seconds), 0) from public.generations
                 where user_id = %(id)s and status = 'completed') as generated_seconds
        """,
        {"id": user_id},
    )
    row = await cur.fetchone()
    assert row is not None
    return row
