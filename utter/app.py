"""Builds the FastAPI application: routers, error handlers and the lifecycle of what the
app owns: its database pool, its CPU processes and (in `utter serve`) its worker process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from utter import __version__
from utter.api import (
    design,
    generate,
    generations,
    health,
    keys,
    languages,
    limits,
    metrics,
    openai_compat,
    profile,
    tasks,
    transcriptions,
    voices,
)
from utter.api.body_limit import BodyLimitMiddleware
from utter.api.context import Studio
from utter.api.cors import CorsMiddleware
from utter.api.docs_ui import install_docs
from utter.api.errors import UnexpectedErrorMiddleware, install_error_handlers
from utter.api.metrics import RequestMetricsMiddleware
from utter.api.openai_errors import install_openai_errors
from utter.api.security_headers import SecurityHeadersMiddleware, security_headers
from utter.audio.validate import ReferenceLimits
from utter.auth.setup import install_auth
from utter.cpu import CpuPool
from utter.db import Database
from utter.engines import engine_capabilities
from utter.jobs.queue import create_queue
from utter.metrics import watch_pool
from utter.services.audio_stream import PartsListener
from utter.services.generate import GenerationRules
from utter.services.voices import CloneRules
from utter.settings import Settings
from utter.storage import LocalStorage, create_storage
from utter.storage import routes as storage_routes
from utter.storage.base import DEFAULT_MAX_UPLOAD_BYTES
from utter.supervise import SupervisedProcess, worker_process
from utter.transcription import create_transcriber
from utter.web_routes import install_web_app

log = logging.getLogger(__name__)

# What the API sends to its CPU processes; each process imports them as it starts.
CPU_MODULES = ("utter.audio.reference", "utter.audio.convert", "utter.transcription.offline")


def build_studio(settings: Settings, db: Database, cpu: CpuPool) -> Studio:
    """Storage, queue, transcription and the engine-derived rules the routes share."""
    engine = engine_capabilities(settings)  # its rules only: no model is loaded here
    return Studio(
        storage=create_storage(settings, db),
        queue=create_queue(db.url),
        transcriber=create_transcriber(settings, cpu),
        engine=engine,
        clone_rules=CloneRules(
            limits=ReferenceLimits(
                min_seconds=settings.reference_min_seconds,
                max_seconds=settings.reference_max_seconds,
                max_bytes=DEFAULT_MAX_UPLOAD_BYTES,
            ),
            languages=engine.languages,
            speaker_profiles=engine.name == "local",
        ),
        generation_rules=GenerationRules(
            languages=engine.languages,
            design_languages=engine.languages if engine.design else (),
            max_active=settings.max_active_generations,
            max_active_design_previews=settings.max_active_design_previews,
            daily_characters=settings.daily_character_limit,
        ),
        cpu=cpu,
    )


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    worker: bool | None = None,
    cpu: CpuPool | None = None,
) -> FastAPI:
    """The app for `settings`. Pass `db` to share an already open pool, and `cpu` to share
    CPU processes (tests do); otherwise the app makes its own and closes them at shutdown.

    With `worker` (default: UTTER_SERVE_WORKER when the app owns its pool), the app starts
    `utter worker` as a child process and keeps it running, as `utter serve` does: the
    engine never runs in the API's process."""
    owns_db = db is None
    run_worker = settings.serve_worker and owns_db if worker is None else worker
    if db is None:
        if not settings.database_url:
            raise ValueError("create_app needs settings.database_url (utter serve sets it)")
        db = Database(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_timeout_seconds,
        )
    owns_cpu = cpu is None
    if cpu is None:
        cpu = CpuPool(settings.cpu_workers, niceness=settings.worker_nice, preload=CPU_MODULES)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owns_db:
            # Not waiting: an API whose database is down still starts, answers 503 on
            # the routes that need it and says so on /api/health until it is back.
            await db.open(wait=False)
        # Started in the background: the first clone or transcription should not wait
        # for processes to spawn, and startup should not either.
        warming = asyncio.create_task(studio.cpu.warm()) if owns_cpu else None
        worker: SupervisedProcess | None = None
        supervising: asyncio.Task[None] | None = None
        if run_worker:
            worker = worker_process(settings.model_copy(update={"database_url": db.url}))
            supervising = asyncio.create_task(worker.run(), name="utter-worker-supervisor")
        app.state.worker = worker
        try:
            yield
        finally:
            await app.state.audio_parts.close()
            if worker is not None and supervising is not None:
                await worker.stop()
                supervising.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervising
            await studio.transcriber.aclose()
            if warming is not None:
                warming.cancel()
                with contextlib.suppress(BaseException):
                    await warming
            if owns_cpu:
                studio.cpu.close()
            if owns_db:
                await db.close()

    app = FastAPI(
        title="Utter",
        version=__version__,
        summary="A self-hostable, multi-user voice studio.",
        lifespan=lifespan,
        # /docs is served from the installed package (install_docs); ReDoc has no local copy.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    # One LISTEN connection per API process wakes the task streams (made on first use).
    app.state.audio_parts = PartsListener(db.url)
    watch_pool("api", db)
    install_error_handlers(app)
    # Each one added wraps those before it: a request meets CORS, then the door's limits,
    # then the in-app 500 (innermost, so even a 500 gets CORS headers).
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        upload_bytes=DEFAULT_MAX_UPLOAD_BYTES,
        json_bytes=settings.max_json_body_bytes,
    )
    app.add_middleware(CorsMiddleware, allowed_origins=settings.cors_allowed_origins)
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(settings))
    # Outermost: every answer counted with its final status, every log line with its id.
    app.add_middleware(RequestMetricsMiddleware)
    install_auth(app, settings, db)
    install_docs(app)
    studio = build_studio(settings, db, cpu)
    app.state.studio = studio
    app.state.storage = studio.storage
    for router in (
        health,
        profile,
        keys,
        languages,
        limits,
        transcriptions,
        voices,
        generate,
        design,
        tasks,
        generations,
    ):
        app.include_router(router.router, prefix="/api")
    # OpenAI's dialect; after every other error handler, which it wraps for /v1 paths.
    app.include_router(openai_compat.router, prefix="/v1")
    install_openai_errors(app)
    if isinstance(studio.storage, LocalStorage):
        app.include_router(storage_routes.router)
    app.include_router(metrics.router)
    # Last: the web app's fallback answers every GET no route above claimed.
    install_web_app(app)
    return app
