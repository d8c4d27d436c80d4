"""Noticing work that stopped: requeue or fail stuck tasks, tidy the queue, drop stale previews,
the pieces of generations that ended an hour ago, abandoned two-step uploads and interrupted
upload files.

Every worker (and `utter serve`) runs `sweep` every few seconds; it is safe to
run from many processes at once because each step is a guarded UPDATE (and
deleting an object twice is no error).

The bound: a worker heartbeats every `heartbeat_seconds`; a processing task
whose heartbeat is older than `stale_after_seconds` is requeued (while it has
attempts left) or failed. So a task whose worker was killed is picked up again
or failed within stale_after + sweep interval seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import procrastinate
from procrastinate.jobs import Status

from utter.db import Database
from utter.db.queries import tasks, usage
from utter.jobs.queue import QUEUE, defer
from utter.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepPolicy:
    stale_after_seconds: float = 30.0
    max_attempts: int = 2
    pending_timeout_seconds: float = 3600.0
    preview_ttl_hours: float = 24.0
    # Pieces serve listening while a generation is made; an hour after its task ended
    # (time for a slow stream to finish) only the finished clip remains.
    parts_ttl_seconds: float = 3600.0


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    queue_jobs_closed: int = 0
    previews_removed: int = 0
    parts_removed: int = 0
    uploads_removed: int = 0
    temporary_removed: int = 0


async def sweep(
    db: Database, queue: procrastinate.App, storage: Storage, policy: SweepPolicy
) -> SweepReport:
    report = SweepReport()
    async with db.as_service() as conn:
        for task in await tasks.requeue_stale(
            conn, stale_after_seconds=policy.stale_after_seconds, max_attempts=policy.max_attempts
        ):
            # Back in line by the same fair-share rule as when it was first queued.
            priority = await tasks.queue_priority(conn, task["user_id"], task["id"])
            job_id = await defer(queue, conn, task["type"], task["id"], priority=priority)
            await tasks.set_queue_job(conn, task["id"], job_id)
            report.requeued += 1
        failed = await tasks.fail_stale(
            conn,
            stale_after_seconds=policy.stale_after_seconds,
            pending_timeout_seconds=policy.pending_timeout_seconds,
        )
        report.failed = len(failed)
    if report.requeued or report.failed:
        log.warning("stale tasks: %d requeued, %d failed", report.requeued, report.failed)

    # Jobs of workers that died stay "doing" in procrastinate's table; the task was
    # requeued above with a new job, so close the old one.
    stalled = await queue.job_manager.get_stalled_jobs(
        queue=QUEUE, seconds_since_heartbeat=policy.stale_after_seconds
    )
    for job in stalled:
        if job.id is not None:
            await queue.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            report.queue_jobs_closed += 1

    async with db.as_service() as conn:
        previews = await tasks.expire_unused_previews(
            conn, older_than_hours=policy.preview_ttl_hours
        )
    for key in previews:
        await storage.delete("references", key)
        report.previews_removed += 1

    async with db.as_service() as conn:
        parts = await tasks.expire_audio_parts(conn, older_than_seconds=policy.parts_ttl_seconds)
    for key in parts:
        await storage.delete("generations", key)
        report.parts_removed += 1

    # Two-step clone uploads never finalized: each upload URL handed out was recorded with
    # the time after which whatever reached its key is abandoned (UPLOAD_TTL_HOURS).
    async with db.as_service() as conn:
        abandoned = await usage.abandoned_uploads(conn)
    if abandoned:
        for grant in abandoned:
            await storage.delete(grant["bucket"], grant["object_key"])
        async with db.as_service() as conn:
            await usage.forget_upload_grants(conn, [g["id"] for g in abandoned])
        report.uploads_removed = len(abandoned)
    # Files of writes a crash interrupted (the backend lists them at most once a minute).
    report.temporary_removed = await storage.remove_stale_temporary()
    return report
