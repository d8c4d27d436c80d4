"""Generations: the history a user sees (under RLS) and deletion."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from utter.db.pool import Connection
from utter.db.queries.paging import Cursor, Page, fetch_page
from utter.db.queries.voices import like_pattern

Row = dict[str, Any]

# A generation in a built-in voice (no voice row) shows that voice's name.
_COLUMNS = "g.*, coalesce(v.name, g.stock_voice) as voice_name"
_FROM = "from public.generations g left join public.voices v on v.id = g.voice_id"


async def list_page(
    conn: Connection,
    *,
    user_id: UUID,
    search: str | None,
    status: str | None,
    limit: int,
    offset: int,
    cursor: Cursor | None = None,
) -> Page:
    """One page of the caller's generations with their voice's name, and the total. RLS
    scopes them; the user_id condition repeats it so the planner knows whose rows it
    reads (the policy's value is only known when the query runs)."""
    where = ["g.user_id = %(user_id)s"]
    params: dict[str, Any] = {"user_id": user_id}
    if search:
        where.append("g.text ilike %(pattern)s escape '\\'")
        params["pattern"] = like_pattern(search)
    if status:
        where.append("g.status = %(status)s")
        params["status"] = status
    return await fetch_page(
        conn,
        table="public.generations",
        alias="g",
        where=where,
        params=params,
        columns=_COLUMNS,
        joins="left join public.voices v on v.id = g.voice_id",
        limit=limit,
        offset=offset,
        cursor=cursor,
        in_order=bool(search),
    )


async def get(conn: Connection, generation_id: UUID) -> Row | None:
    """One generation with its voice's name, as the list has it."""
    cur = await conn.execute(
        f"select {_COLUMNS} {_FROM} where g.id = %s".encode(), (generation_id,)
    )
    return await cur.fetchone()


async def delete(conn: Connection, generation_id: UUID, user_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.generations where id = %s and user_id = %s returning id",
        (generation_id, user_id),
    )
    return await cur.fetchone() is not None
