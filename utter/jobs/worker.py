"""A worker process (or the worker inside `utter serve`): pull jobs, run them, sweep.

`run_worker` opens its own database pool, storage and engine, registers the
job handlers on a procrastinate app, and runs procrastinate's worker beside a
sweeper loop until it is cancelled. Any number of workers, on any machines,
may share one database and one storage.

Engine calls run on the worker's own engine thread, never in the event loop's
default executor: with several jobs at once, the ones waiting for the engine
would otherwise hold default threads and starve everything else that uses them
(storage I/O, encoding, the database driver's name lookups).

A worker never gives up on its database: when it loses it (a restart, a network
cut), everything that talks to it is closed and opened again, with a growing pause
between tries, while the engine (and its loaded model) stays. A job that was
running then is left `processing` and the sweeper requeues it once its heartbeat
is stale, on this worker or another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import procrastinate

from utter.cpu import release_freed_memory
from utter.db import Database
from utter.db.pool import CONNECTION_LOST, DatabaseUnavailable
from utter.db.queries import tasks as task_q
from utter.engines import create_engine
from utter.engines.base import Engine
from utter.jobs.handlers import WorkerContext, handle_design_preview, handle_generate
from utter.jobs.mail import register_mail, run_mail_worker
from utter.jobs.queue import DESIGN_PREVIEW, GENERATE, QUEUE, create_queue
from utter.jobs.sweeper import SweepPolicy, sweep
from utter.logs import bound_request_id
from utter.metrics import Stopwatch, observe_job, watch_pool
from utter.settings import Settings
from utter.storage import Storage, create_storage
from utter.supervise import Backoff

log = logging.getLogger(__name__)

# Engine calls one worker process runs at once. One: most engines hold one model (one
# Piper session and WORLD analysis on the CPUs, one Modal client) and are not shown safe
# to call from several threads; more engine calls at once come from more processes
# (`utter worker --concurrency N` starts N of them). An engine that shares its model
# across jobs (`qwen`, whose batcher puts the jobs' chunks into shared model calls)
# gets one thread per job instead: see `engine_threads`.
ENGINE_THREADS = 1


# The worker's own pool. Each job running polls its task about twice a second and writes
# its pieces: a connection each, plus two for the sweeper and the jobs' ends. Never fewer
# than the four a one-job worker always had.
WORKER_POOL_MIN_SIZE = 4


def worker_pool_size(jobs: int) -> int:
    """The worker's pool for `jobs` jobs at once in one process (the connection budget of
    `utter serve` counts it the same way: utter.cli.worker_connections)."""
    return max(WORKER_POOL_MIN_SIZE, jobs + 2)


def engine_threads(engine: Engine, jobs: int) -> int:
    """Engine calls to run at once for `jobs` jobs at once in this process."""
    return max(1, jobs) if shares_model_across_jobs(engine) else ENGINE_THREADS


def shares_model_across_jobs(engine: Engine) -> bool:
    """Whether the engine may be called by several jobs at once, sharing one model."""
    return bool(getattr(engine, "shares_model_across_jobs", False))


def register_handlers(queue: procrastinate.App) -> None:
    """Bind the task names to their handlers; the context comes from the worker."""

    async def generate(
        context: procrastinate.JobContext, task_id: str, request_id: str | None = None
    ) -> None:
        with bound_request_id(request_id):
            await _observed(_ctx(context), "generate", UUID(task_id), handle_generate)

    async def design_preview(
        context: procrastinate.JobContext, task_id: str, request_id: str | None = None
    ) -> None:
        with bound_request_id(request_id):
            await _observed(_ctx(context), "design_preview", UUID(task_id), handle_design_preview)

    # Retries are ours (the sweeper requeues tasks whose worker died), not procrastinate's:
    # an engine error is not cured by running the same input again.
    queue.task(name=GENERATE, queue=QUEUE, pass_context=True)(generate)
    queue.task(name=DESIGN_PREVIEW, queue=QUEUE, pass_context=True)(design_preview)


async def _observed(
    ctx: WorkerContext,
    kind: str,
    task_id: UUID,
    handle: Callable[[WorkerContext, UUID], Awaitable[None]],
) -> None:
    """Run a job's handler, then count it by the status its task ended in (the handler
    records failures on the task rather than raising them)."""
    watch = Stopwatch()
    log.info("%s job for task %s started", kind, task_id)
    try:
        await handle(ctx, task_id)
        seconds = watch.seconds()
        try:
            async with ctx.db.as_service() as conn:
                task = await task_q.get(conn, task_id)
        except (DatabaseUnavailable, *CONNECTION_LOST):
            return  # the job is done; only its count is lost
        status = task["status"] if task else None
        log.info(
            "%s job for task %s ended in %.1f s; the task is %s",
            kind,
            task_id,
            seconds,
            status or "gone",
            extra={"task_id": str(task_id), "job_kind": kind, "task_status": status},
        )
        observe_job(kind, status, seconds)
    finally:
        await asyncio.to_thread(release_freed_memory)


def _ctx(context: procrastinate.JobContext) -> WorkerContext:
    extra: dict[str, Any] = context.additional_context or {}
    ctx = extra["utter"]
    assert isinstance(ctx, WorkerContext)
    return ctx


def sweep_policy(settings: Settings) -> SweepPolicy:
    return SweepPolicy(
        stale_after_seconds=settings.task_stale_seconds,
        max_attempts=settings.task_max_attempts,
        pending_timeout_seconds=settings.task_pending_timeout_seconds,
        preview_ttl_hours=settings.design_preview_ttl_hours,
    )


async def sweep_forever(
    db: Database, queue: procrastinate.App, storage: Storage, settings: Settings
) -> None:
    policy = sweep_policy(settings)
    while True:
        try:
            await sweep(db, queue, storage, policy)
        except (DatabaseUnavailable, *CONNECTION_LOST) as exc:
            log.warning("sweep skipped, the database is unavailable: %s", exc)
        except Exception:
            log.exception("sweep failed; trying again later")
        await asyncio.sleep(settings.sweep_interval_seconds)


async def run_worker(
    settings: Settings,
    database_url: str,
    *,
    concurrency: int | None = None,
    engine: Engine | None = None,
    name: str | None = None,
) -> None:
    """Run until cancelled, through any number of database outages. `engine` overrides
    the configured one (tests pass their own)."""
    owns_engine = engine is None
    engine = engine or create_engine(settings)
    # Lives as long as the engine (across reconnections), so a call left running by a
    # lost database still has the engine to itself.
    engine_executor = ThreadPoolExecutor(
        max_workers=engine_threads(engine, concurrency or settings.worker_concurrency),
        thread_name_prefix="utter-engine",
    )
    loop = asyncio.get_running_loop()
    backoff = Backoff(first=1.0, ceiling=30.0, healthy_after=60.0)
    try:
        while True:
            started = loop.time()
            try:
                await _run_connected(
                    settings, database_url, engine, engine_executor, concurrency, name
                )
                return
            except (
                DatabaseUnavailable,
                *CONNECTION_LOST,
                procrastinate.exceptions.ConnectorException,
            ) as exc:
                delay = backoff.delay(loop.time() - started)
                log.warning("worker lost its database (%s); reconnecting in %.0f s", exc, delay)
            except Exception:
                delay = backoff.delay(loop.time() - started)
                log.exception("worker stopped unexpectedly; starting again in %.0f s", delay)
            await asyncio.sleep(delay)
    finally:
        # A call still running was told to stop at its next chunk (its job was cancelled);
        # let it return before the engine is closed under it.
        await asyncio.to_thread(engine_executor.shutdown, wait=True, cancel_futures=True)
        if owns_engine:
            engine.close()


async def _run_connected(
    settings: Settings,
    database_url: str,
    engine: Engine,
    engine_executor: ThreadPoolExecutor,
    concurrency: int | None,
    name: str | None,
) -> None:
    """One life of the worker: its own pools, procrastinate's worker and the sweeper,
    until cancelled or until the database is lost (which raises)."""
    jobs = concurrency or settings.worker_concurrency
    db = Database(
        database_url,
        min_size=1,
        max_size=worker_pool_size(jobs),
        timeout=settings.db_timeout_seconds,
    )
    queue = create_queue(database_url)
    register_handlers(queue)
    register_mail(queue, settings)
    worker_name = name or f"{socket.gethostname()}-{id(queue):x}"
    watch_pool("worker", db)
    async with db:
        storage = create_storage(settings, db)
        ctx = WorkerContext(
            db=db,
            storage=storage,
            engine=engine,
            engine_executor=engine_executor,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
        )
        async with queue.open_async():
            sweeper = asyncio.create_task(sweep_forever(db, queue, storage, settings))
            mailer = asyncio.create_task(run_mail_worker(queue, worker_name))
            log.info("worker %s ready (engine %s)", worker_name, engine.capabilities().name)
            try:
                await queue.run_worker_async(
                    queues=[QUEUE],
                    concurrency=jobs,
                    name=worker_name,
                    install_signal_handlers=False,
                    additional_context={"utter": ctx},
                    update_heartbeat_interval=settings.worker_heartbeat_seconds,
                    stalled_worker_timeout=settings.task_stale_seconds,
                    # Waiting jobs are picked up at once through LISTEN/NOTIFY; the
                    # polling interval is only the fallback.
                    fetch_job_polling_interval=2.0,
                )
            finally:
                for side_task in (sweeper, mailer):
                    side_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await side_task
