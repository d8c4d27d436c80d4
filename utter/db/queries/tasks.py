"""Tasks and their generations: every status transition, each guarded in SQL.

A task moves `pending → processing → completed | failed | cancelled`. Each
transition is one UPDATE whose WHERE clause names the states it may leave, so
two workers, a worker and a canceller, or a retry and a sweeper can race and
exactly one of them wins; the loser sees zero rows and backs off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from utter.audio.peaks import pack as pack_peaks
from utter.db.pool import Connection

ACTIVE = ("pending", "processing")
TERMINAL = ("completed", "failed", "cancelled")

Row = dict[str, Any]
TaskType = Literal["generate", "design_preview"]
# The partial unique index that allows one active generate task per user.
ONE_ACTIVE_GENERATION = "idx_tasks_generate_one_active_per_user"
# Announces each published piece of a task's audio (and a generate task's end); the
# payload is the task's id.
AUDIO_PARTS_CHANNEL = "utter_audio_parts"


async def create_generation_task(
    conn: Connection,
    *,
    user_id: UUID,
    voice_id: UUID | None,
    text: str,
    language: str,
    metadata: dict[str, Any],
    speed: float = 1.0,
    stock_voice: str | None = None,
    instructions: str | None = None,
) -> Row | None:
    """Insert the generation and its pending generate task; returns both ids. None: the
    user already has an active generation (the schema's one-active index refused it); the
    transaction is then aborted, and the caller must end it."""
    try:
        cur = await conn.execute(
            """
            with g as (
              insert into public.generations
                (user_id, voice_id, text, language, status, speed, stock_voice, instructions)
              values (%(user_id)s, %(voice_id)s, %(text)s, %(language)s, 'processing',
                      %(speed)s, %(stock_voice)s, %(instructions)s)
              returning id
            )
            insert into public.tasks (user_id, type, status, generation_id, voice_id, metadata)
            select %(user_id)s, 'generate', 'pending', g.id, %(voice_id)s, %(metadata)s from g
            returning id as task_id, generation_id
            """,
            {
                "user_id": user_id,
                "voice_id": voice_id,
                "text": text,
                "language": language,
                "metadata": Jsonb(metadata),
                "speed": speed,
                "stock_voice": stock_voice,
                "instructions": instructions,
            },
        )
    except pg_errors.UniqueViolation as exc:
        if exc.diag.constraint_name != ONE_ACTIVE_GENERATION:
            raise
        return None
    row = await cur.fetchone()
    assert row is not None
    return row


async def create_design_task(conn: Connection, *, user_id: UUID, metadata: dict[str, Any]) -> UUID:
    cur = await conn.execute(
        "insert into public.tasks (user_id, type, status, metadata)"
        " values (%s, 'design_preview', 'pending', %s) returning id",
        (user_id, Jsonb(metadata)),
    )
    row = await cur.fetchone()
    assert row is not None
    task_id: UUID = row["id"]
    return task_id


async def count_active(conn: Connection, user_id: UUID, task_type: TaskType) -> int:
    """How many of the user's tasks of `task_type` are pending or processing."""
    cur = await conn.execute(
        "select count(*) as n from public.tasks"
        " where user_id = %s and type = %s and status in ('pending', 'processing')",
        (user_id, task_type),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def queue_priority(conn: Connection, user_id: UUID, task_id: UUID) -> int:
    """The queue priority of `task_id`'s job: minus the user's other active tasks, so a
    user's n-th waiting job runs after every other user's earlier ones."""
    cur = await conn.execute(
        "select count(*) as n from public.tasks"
        " where user_id = %s and id <> %s and status in ('pending', 'processing')",
        (user_id, task_id),
    )
    row = await cur.fetchone()
    return -int(row["n"]) if row else 0


async def set_queue_job(conn: Connection, task_id: UUID, job_id: int) -> None:
    await conn.execute("update public.tasks set queue_job_id = %s where id = %s", (job_id, task_id))


async def get(conn: Connection, task_id: UUID) -> Row | None:
    cur = await conn.execute("select * from public.tasks where id = %s", (task_id,))
    return await cur.fetchone()


async def claim(conn: Connection, task_id: UUID) -> Row | None:
    """pending → processing, for the worker that runs it. None: someone else has it,
    or it was cancelled or finished meanwhile."""
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'processing', started_at = now(), heartbeat_at = now(),
               attempts = attempts + 1, chunks_done = 0, error = null,
               audio_parts = '[]'::jsonb  -- a retry publishes its pieces anew
         where id = %s and status = 'pending'
        returning *
        """,
        (task_id,),
    )
    return await cur.fetchone()


async def heartbeat(
    conn: Connection, task_id: UUID, chunks_done: int, chunks_total: int | None
) -> bool:
    """Record that the worker is alive and how far it got. False: the task is no longer
    processing (cancelled, or failed by a sweeper), so the worker should stop."""
    cur = await conn.execute(
        """
        update public.tasks
           set heartbeat_at = now(),
               chunks_total = coalesce(%(total)s, chunks_total),
               chunks_done = least(greatest(chunks_done, %(done)s),
                                   coalesce(%(total)s, chunks_total, %(done)s))
         where id = %(id)s and status = 'processing'
        returning id
        """,
        {"id": task_id, "done": chunks_done, "total": chunks_total},
    )
    return await cur.fetchone() is not None


async def lock_for_finish(conn: Connection, task_id: UUID) -> Row | None:
    """Lock the task row until the transaction ends; finishing happens under this lock."""
    cur = await conn.execute("select * from public.tasks where id = %s for update", (task_id,))
    return await cur.fetchone()


# Finishing runs in a transaction that began before the audio was stored, so completion
# times use clock_timestamp() (when the row is written), not now() (when it began).
async def complete_generation(
    conn: Connection,
    *,
    task_id: UUID,
    generation_id: UUID,
    audio_object_key: str,
    duration_seconds: float,
    peaks: Sequence[float],
) -> bool:
    """Finish a generate task: audio and duration on the generation, both completed.
    Call with the task locked (lock_for_finish). False when it was no longer processing."""
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'completed', completed_at = clock_timestamp(), error = null,
               chunks_done = coalesce(chunks_total, chunks_done),
               result = jsonb_build_object('audio_url',
                          '/api/generations/' || %(gid)s::text || '/audio')
         where id = %(tid)s and status = 'processing'
        returning id
        """,
        {"tid": task_id, "gid": generation_id},
    )
    if await cur.fetchone() is None:
        return False
    await conn.execute(
        """
        update public.generations
           set status = 'completed', audio_object_key = %(key)s,
               duration_seconds = %(duration)s, peaks = %(peaks)s, error_message = null,
               completed_at = clock_timestamp(),
               generation_time_seconds = extract(epoch from clock_timestamp() - created_at)
         where id = %(gid)s and status in ('pending', 'processing')
        """,
        {
            "gid": generation_id,
            "key": audio_object_key,
            "duration": duration_seconds,
            "peaks": pack_peaks(list(peaks)),
        },
    )
    return True


async def complete_design(conn: Connection, *, task_id: UUID, object_key: str) -> bool:
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'completed', completed_at = clock_timestamp(), error = null,
               chunks_done = coalesce(chunks_total, chunks_done),
               result = jsonb_build_object('object_key', %s::text)
         where id = %s and status = 'processing'
        returning id
        """,
        (object_key, task_id),
    )
    return await cur.fetchone() is not None


async def fail(conn: Connection, task_id: UUID, message: str) -> bool:
    """Fail an active task and its generation with a message the user will read."""
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'failed', error = %s, completed_at = now()
         where id = %s and status in ('pending', 'processing')
        returning generation_id
        """,
        (message, task_id),
    )
    row = await cur.fetchone()
    if row is None:
        return False
    await _finish_generation(conn, row["generation_id"], "failed", message)
    return True


async def cancel(conn: Connection, task_id: UUID, user_id: UUID) -> Row | None:
    """Cancel an active task of `user_id` and its generation; None if not active."""
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'cancelled', error = 'Cancelled by user', completed_at = now()
         where id = %s and user_id = %s and status in ('pending', 'processing')
        returning id, generation_id, queue_job_id
        """,
        (task_id, user_id),
    )
    row = await cur.fetchone()
    if row is not None:
        await _finish_generation(conn, row["generation_id"], "cancelled", "Cancelled by user")
    return row


async def _finish_generation(
    conn: Connection, generation_id: UUID | None, status: str, message: str
) -> None:
    if generation_id is None:
        return
    await conn.execute(
        """
        update public.generations
           set status = %s, error_message = %s, completed_at = now(),
               generation_time_seconds = extract(epoch from now() - created_at)
         where id = %s and status in ('pending', 'processing')
        """,
        (status, message, generation_id),
    )


async def requeue_stale(
    conn: Connection, *, stale_after_seconds: float, max_attempts: int
) -> list[Row]:
    """Processing tasks whose worker went quiet, with attempts left: back to pending.
    Returns them (id, type, user_id) so the caller can queue a new job in the same transaction."""
    cur = await conn.execute(
        """
        update public.tasks
           set status = 'pending', started_at = null, heartbeat_at = null,
               error = 'The worker stopped responding; retrying.'
         where status = 'processing'
           and coalesce(heartbeat_at, started_at, updated_at)
               < now() - make_interval(secs => %s)
           and attempts < %s
        returning id, type, user_id
        """,
        (stale_after_seconds, max_attempts),
    )
    return await cur.fetchall()


async def fail_stale(
    conn: Connection, *, stale_after_seconds: float, pending_timeout_seconds: float
) -> list[UUID]:
    """What cannot be retried any more: failed, with its generation (frees the guard)."""
    cur = await conn.execute(
        "select public.fail_stale_tasks(make_interval(secs => %s), make_interval(secs => %s))"
        " as id",
        (stale_after_seconds, pending_timeout_seconds),
    )
    return [row["id"] for row in await cur.fetchall()]


async def delete(conn: Connection, task_id: UUID, user_id: UUID) -> list[str] | None:
    """Delete the task; the object keys of its published pieces (for the caller to
    delete), or None when there was no such task."""
    cur = await conn.execute(
        "delete from public.tasks where id = %s and user_id = %s returning audio_parts",
        (task_id, user_id),
    )
    row = await cur.fetchone()
    return None if row is None else part_keys(row["audio_parts"])


def part_keys(parts: Any) -> list[str]:
    """The object keys in an `audio_parts` value."""
    if not isinstance(parts, list):
        return []
    return [p["key"] for p in parts if isinstance(p, dict) and isinstance(p.get("key"), str)]


async def append_audio_part(
    conn: Connection, *, task_id: UUID, index: int, key: str, duration_seconds: float
) -> bool:
    """Publish piece `index` of a processing task and announce it, in one transaction (a
    listener woken by the notification sees the piece). Once per index: a second
    worker racing on the same task (requeued while only slow) adds nothing. False when
    the task is no longer processing or already has that piece."""
    cur = await conn.execute(
        """
        update public.tasks
           set audio_parts = audio_parts || jsonb_build_array(jsonb_build_object(
                 'index', %(index)s::int, 'key', %(key)s::text,
                 'duration_seconds', %(duration)s::float8))
         where id = %(id)s and status = 'processing'
           and not audio_parts @> jsonb_build_array(jsonb_build_object('index', %(index)s::int))
        returning id
        """,
        {"id": task_id, "index": index, "key": key, "duration": duration_seconds},
    )
    if await cur.fetchone() is None:
        return False
    await conn.execute("select pg_notify(%s, %s)", (AUDIO_PARTS_CHANNEL, str(task_id)))
    return True


async def audio_parts(conn: Connection, task_id: UUID) -> tuple[str, list[Row]] | None:
    """A task's status and published pieces (under the caller's RLS), or None."""
    cur = await conn.execute(
        "select status, audio_parts from public.tasks where id = %s", (task_id,)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    parts = row["audio_parts"] if isinstance(row["audio_parts"], list) else []
    return row["status"], parts


async def take_generation_parts(conn: Connection, generation_id: UUID, user_id: UUID) -> list[str]:
    """Forget the pieces of a generation's tasks (its audio is being deleted) and return
    their object keys for the caller to delete."""
    cur = await conn.execute(
        """
        with old as (
          select id, audio_parts from public.tasks
           where generation_id = %s and user_id = %s and audio_parts <> '[]'::jsonb
             for update
        )
        update public.tasks t set audio_parts = '[]'::jsonb
          from old where t.id = old.id
        returning old.audio_parts
        """,
        (generation_id, user_id),
    )
    return [key for row in await cur.fetchall() for key in part_keys(row["audio_parts"])]


async def expire_audio_parts(conn: Connection, *, older_than_seconds: float) -> list[str]:
    """The pieces of tasks that ended more than `older_than_seconds` ago (the finished
    clip, or nothing, is what remains): forgotten, their keys returned for deletion."""
    cur = await conn.execute(
        """
        with old as (
          select id, audio_parts from public.tasks
           where audio_parts <> '[]'::jsonb
             and status in ('completed', 'failed', 'cancelled')
             and completed_at < now() - make_interval(secs => %s)
             for update skip locked
        )
        update public.tasks t set audio_parts = '[]'::jsonb
          from old where t.id = old.id
        returning old.audio_parts
        """,
        (older_than_seconds,),
    )
    return [key for row in await cur.fetchall() for key in part_keys(row["audio_parts"])]


async def increment_poll_count(conn: Connection, task_id: UUID, user_id: UUID) -> int | None:
    cur = await conn.execute(
        "select public.increment_task_modal_poll_count(%s, %s) as n", (task_id, user_id)
    )
    row = await cur.fetchone()
    return None if row is None else row["n"]


async def list_recent(conn: Connection, *, hours: float = 24, limit: int = 50) -> list[Row]:
    """The caller's active tasks and those finished within `hours`, newest first.
    Runs under the caller's RLS, so it needs no user filter."""
    cur = await conn.execute(
        """
        select * from public.tasks
         where status in ('pending', 'processing')
            or coalesce(completed_at, updated_at) > now() - make_interval(hours => %s)
         order by created_at desc
         limit %s
        """,
        (hours, limit),
    )
    return await cur.fetchall()


async def expire_unused_previews(conn: Connection, *, older_than_hours: float) -> list[str]:
    """Design previews nobody saved as a voice within the window: forget their object
    keys (the caller deletes the objects) and return them."""
    cur = await conn.execute(
        """
        with expired as (
          select id, result ->> 'object_key' as key
            from public.tasks
           where type = 'design_preview' and status = 'completed'
             and result ? 'object_key'
             and not result ? 'voice_id'  -- being saved right now
             and completed_at < now() - make_interval(secs => %s)
             for update skip locked
        )
        update public.tasks t
           set result = (t.result - 'object_key') || '{"expired": true}'::jsonb
          from expired e
         where t.id = e.id
        returning e.key
        """,
        (older_than_hours * 3600,),
    )
    return [row["key"] for row in await cur.fetchall()]


async def claim_preview_for_saving(
    conn: Connection, *, task_id: UUID, user_id: UUID, voice_id: UUID
) -> Row | None:
    """Mark a finished design preview as being saved as `voice_id`, once: concurrent saves
    race on this UPDATE and exactly one gets the row back (with its object key)."""
    cur = await conn.execute(
        """
        update public.tasks
           set result = result || jsonb_build_object('voice_id', %(voice)s::text)
         where id = %(id)s and user_id = %(user)s and type = 'design_preview'
           and status = 'completed' and result ? 'object_key' and not result ? 'voice_id'
        returning *
        """,
        {"id": task_id, "user": user_id, "voice": voice_id},
    )
    return await cur.fetchone()


async def finish_preview_saving(conn: Connection, *, task_id: UUID, voice_id: UUID) -> None:
    """The voice is stored: the preview object is the voice's now, only its id remains."""
    await conn.execute(
        "update public.tasks set result = jsonb_build_object('voice_id', %s::text)"
        " where id = %s and result ->> 'voice_id' = %s::text",
        (voice_id, task_id, voice_id),
    )


async def release_preview_saving(conn: Connection, *, task_id: UUID, voice_id: UUID) -> None:
    """Storing the voice failed: let the user try to save the preview again."""
    await conn.execute(
        "update public.tasks set result = result - 'voice_id'"
        " where id = %s and result ->> 'voice_id' = %s::text",
        (task_id, voice_id),
    )


async def is_processing(conn: Connection, task_id: UUID) -> bool:
    """Whether the task is still processing (not cancelled, failed or requeued)."""
    cur = await conn.execute(
        "select 1 from public.tasks where id = %s and status = 'processing'", (task_id,)
    )
    return await cur.fetchone() is not None
