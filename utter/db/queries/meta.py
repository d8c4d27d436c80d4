"""Facts about the database itself, for health checks."""

from __future__ import annotations

from utter.db.pool import Connection


async def server_version(conn: Connection) -> str:
    row = await (await conn.execute("select current_setting('server_version') as v")).fetchone()
    return str(row["v"]) if row else "unknown"


async def migration_level(conn: Connection) -> str | None:
    cur = await conn.execute(
        "select version || '_' || name as level from utter.schema_migrations"
        " order by version desc limit 1"
    )
    row = await cur.fetchone()
    return None if row is None else str(row["level"])
