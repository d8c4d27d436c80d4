"""The storage catalogue: `storage.buckets` (limits) and `storage.objects` (one row per object).

`insert_object` is what a user's own upload runs as `authenticated`, so the
`references_insert_own` policy decides; the rest run as the service role.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from utter.db.pool import Connection

Row = dict[str, Any]


async def get_bucket(conn: Connection, bucket_id: str) -> Row | None:
    cur = await conn.execute(
        "select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = %s",
        (bucket_id,),
    )
    return await cur.fetchone()


async def get_object(conn: Connection, bucket_id: str, name: str) -> Row | None:
    cur = await conn.execute(
        "select id, bucket_id, name, owner, metadata, created_at, updated_at"
        " from storage.objects where bucket_id = %s and name = %s",
        (bucket_id, name),
    )
    return await cur.fetchone()


async def insert_object(
    conn: Connection, bucket_id: str, name: str, owner: UUID | None, metadata: dict[str, Any]
) -> None:
    """A new row; raises UniqueViolation when the key is taken and, under RLS,
    InsufficientPrivilege when the policies do not allow it. No RETURNING, so
    only the INSERT policy is consulted."""
    await conn.execute(
        "insert into storage.objects (bucket_id, name, owner, owner_id, metadata)"
        " values (%s, %s, %s, %s, %s)",
        (bucket_id, name, owner, str(owner) if owner else None, Jsonb(metadata)),
    )


async def upsert_object(
    conn: Connection, bucket_id: str, name: str, owner: UUID | None, metadata: dict[str, Any]
) -> None:
    """Create or replace the row for a server-side write (service role only)."""
    await conn.execute(
        """
        insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
        values (%s, %s, %s, %s, %s)
        on conflict (bucket_id, name) do update
          set owner = excluded.owner,
              owner_id = excluded.owner_id,
              metadata = excluded.metadata,
              updated_at = now(),
              last_accessed_at = now()
        """,
        (bucket_id, name, owner, str(owner) if owner else None, Jsonb(metadata)),
    )


async def delete_object(conn: Connection, bucket_id: str, name: str) -> bool:
    cur = await conn.execute(
        "delete from storage.objects where bucket_id = %s and name = %s", (bucket_id, name)
    )
    return cur.rowcount > 0
