"""GET /metrics: off unless UTTER_METRICS_TOKEN is set, read only with that token; requests
counted by route template, jobs by kind and outcome, the queue read at scrape time. JSON
logs: one object a line, a request's id in its access line and in the lines of the job it
queued, secrets still redacted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.jobs.conftest import Studio
from tests.support.api import sign_up
from tests.support.local_engine import shared_local_engine
from tests.support.objects import make_voice
from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve_asgi
from utter.api.metrics import create_worker_metrics_app
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.jobs.worker import run_worker
from utter.logs import REDACTED, JsonFormatter, configure_logging, uvicorn_log_options

TOKEN = "metrics-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a scrape (0 when the series is absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
async def metered(pg_server_url: str, tmp_path: Path, cpu: CpuPool) -> AsyncIterator[Studio]:
    """An app with metrics on, over a database of its own (so a worker started by the test
    takes only this test's jobs and the queue holds only them)."""
    url = migrated_database(pg_server_url)
    settings = app_settings(
        tmp_path / "data",
        public_url="http://testserver",
        database_url=url,
        metrics_token=TOKEN,
        worker_heartbeat_seconds=0.5,
    )
    async with Database(url, min_size=1, max_size=4) as db:
        app = create_app(settings, db=db, worker=False, cpu=cpu)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Studio(client=client, app=app, settings=settings, db=db)


@contextlib.asynccontextmanager
async def worker_running(studio: Studio) -> AsyncIterator[None]:
    task = asyncio.create_task(
        run_worker(studio.settings, studio.db.url, engine=shared_local_engine())
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_metrics_are_404_without_the_setting(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["none", "wrong token", "not bearer"],
)
async def test_metrics_are_401_without_the_token(metered: Studio, headers: dict[str, str]) -> None:
    response = await metered.client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "The metrics need the metrics token as a bearer token."}


async def test_a_request_is_counted_by_its_route_template(metered: Studio) -> None:
    user = await sign_up(metered.client)
    voice_id = await make_voice(metered.db, user.id)
    labels = {"method": "GET", "route": "/api/voices/{voice_id}", "status": "2xx"}
    missing = {**labels, "status": "4xx"}
    before = await scrape(metered.client)
    for _ in range(3):
        response = await metered.client.get(f"/api/voices/{voice_id}", headers=user.headers)
        assert response.status_code == 200
    # Another user's id: a 404, counted under the same template, never under the raw path.
    other = await sign_up(metered.client)
    response = await metered.client.get(f"/api/voices/{voice_id}", headers=other.headers)
    assert response.status_code == 404
    after = await scrape(metered.client)
    count = "utter_http_requests_total"
    assert sample(after, count, **labels) - sample(before, count, **labels) == 3
    assert sample(after, count, **missing) - sample(before, count, **missing) == 1
    histogram = "utter_http_request_duration_seconds_count"
    assert sample(after, histogram, **labels) - sample(before, histogram, **labels) == 3
    assert str(voice_id) not in after
    # The scrape reads this process's pool too.
    assert "utter_db_pool_connections" in after and 'state="max"' in after


async def test_jobs_are_counted_by_outcome_and_the_queue_is_visible(metered: Studio) -> None:
    # A generation whose voice is deleted before any worker runs: its job fails.
    user, doomed_voice = await metered.user_with_voice()
    doomed = await metered.generate(user, doomed_voice, "This voice will be gone.")
    response = await metered.client.delete(f"/api/voices/{doomed_voice}", headers=user.headers)
    assert response.status_code == 200, response.text

    waiting = await scrape(metered.client)
    depth = {"queue": "speech", "task": "utter.generate"}
    assert sample(waiting, "utter_queue_jobs", **depth, status="todo") == 1
    assert sample(waiting, "utter_queue_jobs", **depth, status="doing") == 0
    assert sample(waiting, "utter_queue_oldest_job_age_seconds", **depth) > 0
    assert 'task="utter.design_preview"' in waiting  # every kind has its series

    def jobs(text: str, outcome: str) -> float:
        return sample(text, "utter_jobs_total", kind="generate", outcome=outcome)

    # Counters live as long as the process: other tests' workers in this process may have
    # counted jobs before, so what this test's jobs add is measured against this scrape.
    def added(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(waiting, name, **labels)

    async with worker_running(metered):
        task = await metered.wait_for(user, doomed["task_id"])
        assert task["status"] == "failed", task
        second, voice = await metered.user_with_voice()
        started = await metered.generate(second, voice, "Hello there, this one works.")
        task = await metered.wait_for(second, started["task_id"])
        assert task["status"] == "completed", task
        # The worker counts a job after its task ended: give it the moment it takes.
        for _ in range(100):
            after = await scrape(metered.client)
            if jobs(after, "succeeded") == jobs(waiting, "succeeded") + 1:
                break
            await asyncio.sleep(0.05)

    generate = {"kind": "generate"}
    assert added("utter_jobs_total", **generate, outcome="failed") == 1
    assert added("utter_jobs_total", **generate, outcome="succeeded") == 1
    assert added("utter_jobs_total", **generate, outcome="cancelled") == 0
    assert added("utter_job_duration_seconds_count", **generate, outcome="failed") == 1
    assert added("utter_engine_realtime_factor_count", engine="local") >= 1
    assert added("utter_engine_audio_seconds_total", engine="local") > 0
    assert sample(after, "utter_queue_jobs", **depth, status="todo") == 0


async def test_the_worker_serves_the_same_metrics_with_the_same_token(
    metered: Studio,
) -> None:
    app = create_worker_metrics_app(metered.settings, metered.db.url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            assert (await client.get("/metrics")).status_code == 401
            text = await scrape(client)
    assert (
        sample(text, "utter_queue_jobs", queue="speech", task="utter.generate", status="todo") == 0
    )
    assert "utter_jobs_total" in text


async def test_storage_errors_are_counted_by_backend_and_operation(
    db: Database, tmp_path: Path
) -> None:
    from prometheus_client import REGISTRY

    from utter.storage import LocalStorage
    from utter.storage.base import ObjectNotFound

    def errors(operation: str) -> float:
        labels = {"backend": "local", "operation": operation}
        return REGISTRY.get_sample_value("utter_storage_errors_total", labels) or 0.0

    # A root that is a file: every write fails as a broken disk would.
    root = tmp_path / "not-a-directory"
    root.write_text("")
    storage = LocalStorage(root, db, secret=lambda: "s" * 32, base_url="http://testserver")
    puts, reads = errors("put"), errors("read")
    with pytest.raises(OSError):
        await storage.put("generations", "someone/clip.wav", b"RIFF", "audio/wav")
    # A missing object is an answer, not a failure of the backend.
    with pytest.raises(ObjectNotFound):
        await storage.read("generations", "someone/missing.wav")
    assert errors("put") - puts == 1
    assert errors("read") - reads == 0


def test_every_process_of_a_multiprocess_directory_is_counted(tmp_path: Path) -> None:
    """What `utter serve` sets up: processes counting into one directory, any of them
    scraping all of them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from utter.metrics import observe_request, observe_job;"
        "observe_request('GET', '/api/health', 200, 0.01);"
        "observe_job('generate', 'completed', 2.0)"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    read = (
        "import sys; from utter.metrics import exposition; sys.stdout.write(exposition().decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", read],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    labels = {"method": "GET", "route": "/api/health", "status": "2xx"}
    assert sample(text, "utter_http_requests_total", **labels) == 2
    assert sample(text, "utter_jobs_total", kind="generate", outcome="succeeded") == 2


# JSON logs ------------------------------------------------------------------------------


class JsonLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self.guard:
            self.lines.append(json.loads(line))

    def having(self, request_id: str) -> list[dict[str, Any]]:
        with self.guard:
            return [line for line in self.lines if line.get("request_id") == request_id]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Logging as `utter serve` sets it up with UTTER_LOG_FORMAT=json, collected; the
    process's record factory, handlers and levels restored after."""
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    utter_logger = logging.getLogger("utter")
    handlers, level, utter_level = list(root.handlers), root.level, utter_logger.level
    # Other tests' uvicorn servers configured its loggers (own handlers, no propagation);
    # a fresh `utter serve` with JSON logs has them propagate to the root logger.
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    uvicorn_state = [(lg, list(lg.handlers), lg.propagate) for lg in uvicorn_loggers]
    for lg in uvicorn_loggers:
        lg.handlers.clear()
        lg.propagate = True
    configure_logging("info", "json")
    collect = JsonLines()
    root.addHandler(collect)
    utter_logger.setLevel(logging.INFO)
    try:
        yield collect
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for lg, lg_handlers, propagate in uvicorn_state:
            lg.handlers[:] = lg_handlers
            lg.propagate = propagate
        utter_logger.setLevel(utter_level)
        logging.setLogRecordFactory(factory)


def test_a_json_line_is_one_object_with_extra_fields_and_secrets_redacted(
    json_logs: JsonLines,
) -> None:
    log = logging.getLogger("utter.test")
    log.info("fetched %s", f"https://s3.example/clip.wav?X-Amz-Signature={SECRET}")
    log.info("link", extra={"link": f"http://x/verify?token={SECRET}&type=magiclink"})
    first, second = json_logs.lines[-2:]
    assert set(first) >= {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "utter.test"
    assert first["message"] == f"fetched https://s3.example/clip.wav?X-Amz-Signature={REDACTED}"
    assert second["link"] == f"http://x/verify?token={REDACTED}&type=magiclink"
    assert SECRET not in json.dumps(second)


async def test_a_request_id_follows_the_request_into_its_job(
    json_logs: JsonLines, pg_server_url: str, tmp_path: Path, cpu: CpuPool
) -> None:
    url = migrated_database(pg_server_url)

    def settings_for(base: str) -> Any:
        return app_settings(tmp_path / "data", public_url=base, database_url=url, log_format="json")

    with serve_asgi(
        lambda base: create_app(settings_for(base), cpu=cpu),
        log_level="info",
        access_log=True,
        **uvicorn_log_options("json"),
    ) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=60) as client,
            Database(url, min_size=1, max_size=2) as db,
        ):
            user = await sign_up(client)
            voice_id = await make_voice(db, user.id)  # no reference object: its job fails
            response = await client.post(
                "/api/generate",
                json={"voice_id": str(voice_id), "text": "Hello there.", "language": "English"},
                headers={**user.headers, "X-Request-ID": "req-123.abc"},
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-request-id"] == "req-123.abc"
            task_id = response.json()["task_id"]

            # A secret in the query string and an id no one should log as given.
            bad = await client.get(
                f"/api/health?token={SECRET}", headers={"X-Request-ID": "two words"}
            )
            generated = bad.headers["x-request-id"]
            assert generated != "two words" and len(generated) == 32

            worker = asyncio.create_task(
                run_worker(settings_for(base), url, engine=shared_local_engine())
            )
            try:
                for _ in range(600):
                    if any("ended" in line["message"] for line in json_logs.having("req-123.abc")):
                        break
                    await asyncio.sleep(0.05)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    lines = json_logs.having("req-123.abc")
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) == 1 and '"POST /api/generate HTTP/1.1" 200' in access[0]["message"]
    job_lines = [line for line in lines if line["logger"] == "utter.jobs.worker"]
    assert [line["message"].split(" ")[-1] for line in job_lines] == ["started", "failed"]
    assert all(task_id in line["message"] for line in job_lines)
    assert job_lines[-1]["task_status"] == "failed" and job_lines[-1]["task_id"] == task_id
    # The handler's own line about the failure carries the id too.
    assert any(line["logger"] == "utter.jobs.handlers" for line in lines)

    (health,) = [line for line in json_logs.having(generated) if line["logger"] == "uvicorn.access"]
    assert f"/api/health?token={REDACTED}" in health["message"]
    assert SECRET not in json.dumps(json_logs.lines)
