"""Daily usage per user (UTC days) and the two-step upload URLs handed out.

The day is always taken from the database's clock in UTC, so every replica
counts into the same row whatever its own time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from utter.db.pool import Connection

Row = dict[str, Any]

TODAY = "(now() at time zone 'utc')::date"


async def today(conn: Connection, user_id: UUID) -> Row:
    """Today's (UTC) usage, zeros when nothing was used; with the day and when it ends."""
    cur = await conn.execute(
        f"""
        select d.day,
               (d.day + 1)::timestamp at time zone 'utc' as resets_at,
               coalesce(u.characters, 0) as characters,
               coalesce(u.transcription_seconds, 0) as transcription_seconds
          from (select {TODAY} as day) d
          left join public.usage_daily u on u.user_id = %s and u.day = d.day
        """,
        (user_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def add_characters(conn: Connection, user_id: UUID, n: int, limit: int | None) -> bool:
    """Count `n` characters into today's total unless that would pass `limit` (None: no
    limit). One statement, so concurrent requests cannot both slip under the limit.
    False: refused, nothing counted."""
    cur = await conn.execute(
        f"""
        insert into public.usage_daily as u (user_id, day, characters)
        select %(user)s, {TODAY}, %(n)s
         where %(limit)s::bigint is null or %(n)s <= %(limit)s::bigint
        on conflict (user_id, day) do update
           set characters = u.characters + excluded.characters, updated_at = now()
         where %(limit)s::bigint is null or u.characters + excluded.characters <= %(limit)s::bigint
        returning characters
        """,
        {"user": user_id, "n": n, "limit": limit},
    )
    return await cur.fetchone() is not None


async def add_transcription_seconds(conn: Connection, user_id: UUID, seconds: float) -> None:
    await conn.execute(
        f"""
        insert into public.usage_daily as u (user_id, day, transcription_seconds)
        values (%(user)s, {TODAY}, %(s)s)
        on conflict (user_id, day) do update
           set transcription_seconds = u.transcription_seconds + excluded.transcription_seconds,
               updated_at = now()
        """,
        {"user": user_id, "s": seconds},
    )


async def count_pending_uploads(conn: Connection, user_id: UUID) -> int:
    """Upload URLs of the user still usable (not expired) whose voice does not exist yet."""
    cur = await conn.execute(
        """
        select count(*) as n from utter.upload_grants g
         where g.user_id = %s and g.expires_at > now()
           and not exists (select 1 from public.voices v where v.id = g.voice_id)
        """,
        (user_id,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def record_upload_grant(
    conn: Connection,
    *,
    user_id: UUID,
    voice_id: UUID,
    bucket: str,
    object_key: str,
    expires_at: datetime,
    sweep_after_seconds: float,
) -> None:
    await conn.execute(
        """
        insert into utter.upload_grants
               (user_id, voice_id, bucket, object_key, expires_at, sweep_after)
        values (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))
        """,
        (user_id, voice_id, bucket, object_key, expires_at, sweep_after_seconds),
    )


async def abandoned_uploads(conn: Connection, *, limit: int = 100) -> list[Row]:
    """Grants past their sweep time (id, bucket, object_key), oldest first: whatever was
    uploaded there was never finalized in time and is to be deleted."""
    cur = await conn.execute(
        "select id, bucket, object_key from utter.upload_grants"
        " where sweep_after < now() order by sweep_after limit %s",
        (limit,),
    )
    return list(await cur.fetchall())


async def forget_upload_grants(conn: Connection, ids: list[UUID]) -> None:
    await conn.execute("delete from utter.upload_grants where id = any(%s)", (ids,))
