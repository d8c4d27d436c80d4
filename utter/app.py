"""Builds the FastAPI application: routers, error handlers and the database lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from utter import __version__
from utter.api import generation, generations, health, languages, profile, tasks, voices
from utter.api.context import Studio
from utter.api.cors import CorsMiddleware
from utter.api.docs_ui import install_docs
from utter.api.security_headers import SecurityHeadersMiddleware, security_headers
from utter.audio.validate import ReferenceLimits
from utter.auth.setup import install_auth
from utter.db import Database
from utter.engines import engine_capabilities
from utter.errors import install_error_handlers
from utter.jobs.queue import create_queue
from utter.services.generate import GenerationRules
from utter.services.voices import CloneRules
from utter.settings import Settings
from utter.storage import LocalStorage, create_storage
from utter.storage import routes as storage_routes
from utter.storage.base import DEFAULT_MAX_UPLOAD_BYTES
from utter.transcription import create_transcriber
from utter.web_routes import install_web_app

log = logging.getLogger(__name__)


def build_studio(settings: Settings, db: Database) -> Studio:
    """Storage, queue, transcription and the engine-derived rules the routes share."""
    engine = engine_capabilities(settings)
    return Studio(
        storage=create_storage(settings, db),
        queue=create_queue(db.url),
        transcriber=create_transcriber(settings),
        engine=engine,
        clone_rules=CloneRules(
            limits=ReferenceLimits(
                min_seconds=settings.reference_min_seconds,
                max_seconds=settings.reference_max_seconds,
                max_bytes=DEFAULT_MAX_UPLOAD_BYTES,
            ),
            languages=engine.languages,
        ),
        generation_rules=GenerationRules(
            languages=engine.languages,
            design_languages=engine.languages if engine.design else (),
            max_active=settings.max_active_generations,
        ),
    )


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process worker stopped", exc_info=task.exception())


def create_app(
    settings: Settings, *, db: Database | None = None, worker: bool | None = None
) -> FastAPI:
    """The app for `settings`. Pass `db` to share an already open pool (tests do);
    otherwise the app opens one on `settings.database_url` at startup.

    With `worker` (default: UTTER_SERVE_WORKER when the app owns its pool), a job
    worker runs inside the app's event loop, as `utter serve` does."""
    owns_db = db is None
    run_worker = settings.serve_worker and owns_db if worker is None else worker
    if db is None:
        if not settings.database_url:
            raise ValueError("create_app needs settings.database_url (utter serve sets it)")
        db = Database(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owns_db:
            await db.open()
        worker_task: asyncio.Task[None] | None = None
        if run_worker:
            from utter.jobs.worker import run_worker as worker_main

            worker_task = asyncio.create_task(worker_main(settings, db.url), name="utter-worker")
            worker_task.add_done_callback(_report_worker_exit)
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await studio.transcriber.aclose()
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
    install_error_handlers(app)
    app.add_middleware(CorsMiddleware, allowed_origins=settings.cors_allowed_origins)
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers(settings))
    install_auth(app, settings, db)
    install_docs(app)
    studio = build_studio(settings, db)
    app.state.studio = studio
    app.state.storage = studio.storage
    for router in (health, profile, languages, voices, generation, tasks, generations):
        app.include_router(router.router, prefix="/api")
    if isinstance(studio.storage, LocalStorage):
        app.include_router(storage_routes.router)
    # Last: the web app's fallback answers every GET no route above claimed.
    install_web_app(app)
    return app
