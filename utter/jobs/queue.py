"""The job queue: procrastinate on the same Postgres, one queue for speech work.

The API defers jobs inside the transaction that creates their task (so a crash
never leaves a task without its job or a job without its task); workers pull
them. A job carries the task id (the `tasks` row is the truth about what to
do and whether it is still wanted) and the id of the request that queued it,
which the worker binds to its log lines while it runs the job.

Fair share: the queue is one line for everyone, so each job gets a priority
(procrastinate runs higher first, then oldest first) of minus the number of
tasks its user already had waiting or running when it was queued. A user's
n-th job therefore waits behind every other user's earlier ones, and one
user's backlog never blocks another user's first job.
"""

from __future__ import annotations

from uuid import UUID

import procrastinate

from utter.db.pool import QUEUE_SEARCH_PATH, Connection, queue_connector
from utter.logs import current_request_id

QUEUE = "speech"
GENERATE = "utter.generate"
DESIGN_PREVIEW = "utter.design_preview"
TASK_FOR_TYPE = {"generate": GENERATE, "design_preview": DESIGN_PREVIEW}


def create_queue(database_url: str, *, max_connections: int = 4) -> procrastinate.App:
    """A procrastinate app bound to the database; workers register handlers on it."""
    return procrastinate.App(connector=queue_connector(database_url, max_size=max_connections))


async def defer(
    queue: procrastinate.App,
    conn: Connection,
    task_type: str,
    task_id: UUID,
    *,
    priority: int = 0,
) -> int:
    """Queue the job for `task_id` on `conn`, inside the caller's transaction.
    `priority` comes from `tasks.queue_priority` (0 or below; higher runs first).
    The request id bound here (the API request's; none in a sweeper's retry) goes along."""
    cur = await conn.execute("select current_setting('search_path') as path")
    row = await cur.fetchone()
    previous = row["path"] if row else "public"
    await conn.execute(
        "select set_config('search_path', %s, true)", (f"{QUEUE_SEARCH_PATH}, {previous}",)
    )
    args = {"task_id": str(task_id)}
    request_id = current_request_id()
    if request_id is not None:
        args["request_id"] = request_id
    job_id = await queue.configure_task(
        name=TASK_FOR_TYPE[task_type],
        queue=QUEUE,
        # One waiting job per task, whoever queues it (the API or a sweeper's retry).
        queueing_lock=str(task_id),
        priority=priority,
        connection=conn,
    ).defer_async(**args)
    await conn.execute("select set_config('search_path', %s, true)", (previous,))
    return job_id
