"""What /metrics reads from the database at scrape time: procrastinate's queue."""

from __future__ import annotations

from psycopg.rows import DictRow

from utter.db.pool import Connection


async def queue_state(conn: Connection) -> list[DictRow]:
    """Jobs waiting or running by queue, task and status, and for waiting ones the age of
    the oldest (since it was deferred, or since its scheduled time when that is later)."""
    cur = await conn.execute(
        """
        select j.queue_name, j.task_name, j.status::text as status, count(*) as jobs,
               extract(epoch from now() - min(greatest(j.scheduled_at, d.at))) as oldest_seconds
        from procrastinate.procrastinate_jobs j
        left join lateral (
            select min(e.at) as at from procrastinate.procrastinate_events e
            where e.job_id = j.id and e.type = 'deferred'
        ) d on true
        where j.status in ('todo', 'doing')
        group by j.queue_name, j.task_name, j.status
        """
    )
    return await cur.fetchall()
