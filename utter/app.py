"""Builds the FastAPI application: routers, error handlers and the database lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from utter import __version__
from utter.api import health
from utter.db import Database
from utter.errors import install_error_handlers
from utter.settings import Settings


def create_app(settings: Settings, *, db: Database | None = None) -> FastAPI:
    """The app for `settings`. Pass `db` to share an already open pool (tests do);
    otherwise the app opens one on `settings.database_url` at startup."""
    owns_db = db is None
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
        try:
            yield
        finally:
            if owns_db:
                await db.close()

    app = FastAPI(
        title="Utter",
        version=__version__,
        summary="A self-hostable, multi-user voice studio.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    install_error_handlers(app)
    app.include_router(health.router, prefix="/api")
    return app
