"""Voices: the library a user sees (under RLS) and the server's writes (service role)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from utter.db.pool import Connection
from utter.db.queries.paging import Cursor, Page, fetch_page

Row = dict[str, Any]

LIST_COLUMNS = (
    "id, name, reference_transcript, language, source, description, created_at,"
    " duration_seconds, reference_report"
)


def like_pattern(search: str) -> str:
    """A case-insensitive substring pattern with LIKE's wildcards taken literally: people
    searching for `100%` or `under_score` mean those characters, not any character."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_page(
    conn: Connection,
    *,
    user_id: UUID,
    search: str | None,
    source: str | None,
    limit: int,
    offset: int,
    cursor: Cursor | None = None,
) -> Page:
    """One page of the caller's voices, newest first, and the total. RLS scopes them; the
    user_id condition repeats it so the planner knows whose rows it reads."""
    where = ["v.user_id = %(user_id)s"]
    params: dict[str, Any] = {"user_id": user_id}
    if search:
        where.append("v.name ilike %(pattern)s escape '\\'")
        params["pattern"] = like_pattern(search)
    if source:
        where.append("v.source = %(source)s")
        params["source"] = source
    return await fetch_page(
        conn,
        table="public.voices",
        alias="v",
        where=where,
        params=params,
        columns=", ".join(f"v.{column.strip()}" for column in LIST_COLUMNS.split(",")),
        limit=limit,
        offset=offset,
        cursor=cursor,
        in_order=bool(search),
    )


async def get(conn: Connection, voice_id: UUID) -> Row | None:
    """One voice; under RLS (`as_user`) only the caller's own."""
    cur = await conn.execute("select * from public.voices where id = %s", (voice_id,))
    return await cur.fetchone()


async def newest_named(conn: Connection, name: str) -> Row | None:
    """The newest voice called exactly `name`; under RLS (`as_user`) only the caller's."""
    cur = await conn.execute(
        "select * from public.voices where name = %s order by created_at desc, id desc limit 1",
        (name,),
    )
    return await cur.fetchone()


async def insert(
    conn: Connection,
    *,
    voice_id: UUID,
    user_id: UUID,
    name: str,
    language: str,
    source: str,
    transcript: str,
    description: str | None,
    reference_object_key: str,
    original_object_key: str | None,
    duration_seconds: float,
    report: dict[str, Any] | None,
    speaker_profile: dict[str, Any] | None = None,
) -> Row:
    cur = await conn.execute(
        """
        insert into public.voices (id, user_id, name, language, source, reference_transcript,
                                   description, reference_object_key, original_object_key,
                                   duration_seconds, reference_report, speaker_profile)
        values (%(id)s, %(user_id)s, %(name)s, %(language)s, %(source)s, %(transcript)s,
                %(description)s, %(ref)s, %(orig)s, %(duration)s, %(report)s, %(profile)s)
        returning *
        """,
        {
            "id": voice_id,
            "user_id": user_id,
            "name": name,
            "language": language,
            "source": source,
            "transcript": transcript,
            "description": description,
            "ref": reference_object_key,
            "orig": original_object_key,
            "duration": duration_seconds,
            "report": Jsonb(report) if report is not None else None,
            "profile": Jsonb(speaker_profile) if speaker_profile is not None else None,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def update(
    conn: Connection, voice_id: UUID, user_id: UUID, changes: dict[str, Any]
) -> Row | None:
    allowed = {"name", "description"}
    assert changes and set(changes) <= allowed
    assignments = ", ".join(f"{column} = %({column})s" for column in sorted(changes))
    cur = await conn.execute(
        f"update public.voices set {assignments} where id = %(id)s and user_id = %(user_id)s"
        " returning *".encode(),
        {**changes, "id": voice_id, "user_id": user_id},
    )
    return await cur.fetchone()


async def delete(conn: Connection, voice_id: UUID, user_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.voices where id = %s and user_id = %s returning id", (voice_id, user_id)
    )
    return await cur.fetchone() is not None


async def generation_job(conn: Connection, generation_id: UUID | None) -> Row | None:
    """What a worker needs to speak a generation: its text and its voice's reference (or
    the name of the built-in voice it is spoken in: `stock_voice`)."""
    if generation_id is None:
        return None
    cur = await conn.execute(
        """
        select g.id, g.user_id, g.text, g.language, g.voice_id, g.speed, g.stock_voice,
               v.reference_object_key, v.reference_transcript, v.language as voice_language,
               v.speaker_profile
          from public.generations g
          left join public.voices v on v.id = g.voice_id
         where g.id = %s
        """,
        (generation_id,),
    )
    return await cur.fetchone()


async def set_speaker_profile(conn: Connection, voice_id: UUID, record: dict[str, Any]) -> bool:
    """Store an engine's analysis of the voice's speaker (service role: clients never write
    it). False when the voice is gone."""
    cur = await conn.execute(
        "update public.voices set speaker_profile = %s where id = %s returning id",
        (Jsonb(record), voice_id),
    )
    return await cur.fetchone() is not None
