"""An app and a real worker (the local engine) sharing one data dir and the run's database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import TaskApi
from tests.support.server import app_settings
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.engines.base import Engine
from utter.engines.local import LocalEngine
from utter.jobs.worker import run_worker
from utter.settings import Settings

# Short chunks, so a few sentences make a multi-chunk job.
CHUNK_CHARS = 120


@pytest.fixture(scope="session")
def local_engine() -> LocalEngine:
    return LocalEngine(max_chunk_chars=CHUNK_CHARS)


@dataclass
class Studio(TaskApi):
    app: FastAPI
    settings: Settings
    db: Database


@contextlib.asynccontextmanager
async def running_studio(
    db: Database,
    database_url: str,
    data_dir: Path,
    engine: Engine,
    cpu: CpuPool,
    concurrency: int | None = None,
) -> AsyncIterator[Studio]:
    """The app in process and a worker running `engine` (`concurrency` jobs at once, one
    by default), both on `db`, until the block ends."""
    settings = app_settings(
        data_dir,
        public_url="http://testserver",
        database_url=database_url,
        worker_heartbeat_seconds=0.5,
    )
    app = create_app(settings, db=db, worker=False, cpu=cpu)
    worker = asyncio.create_task(
        run_worker(settings, database_url, engine=engine, concurrency=concurrency)
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Studio(client=client, app=app, settings=settings, db=db)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


@pytest.fixture
async def studio(
    db: Database, database_url: str, tmp_path: Path, local_engine: LocalEngine, cpu: CpuPool
) -> AsyncIterator[Studio]:
    async with running_studio(db, database_url, tmp_path / "data", local_engine, cpu) as running:
        yield running
