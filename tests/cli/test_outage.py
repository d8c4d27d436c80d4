"""`utter serve` heals without a restart: its embedded Postgres killed, its worker killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support import audio
from tests.support.api import DEFAULT_PASSWORD, new_email
from tests.support.postgres import create_database
from tests.support.serve_process import stop, utter_serve
from utter.db.embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow


def _signed_up(client: httpx.Client) -> dict[str, str]:
    response = client.post(
        "/auth/v1/signup", json={"email": new_email(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _cloned_voice(client: httpx.Client, headers: dict[str, str]) -> str:
    response = client.post(
        "/api/clone",
        headers=headers,
        files={"audio": ("me.wav", audio.encode(audio.speech(), "wav"), "audio/wav")},
        data={"name": "Me", "transcript": audio.TEXT, "language": "English"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _finished(
    client: httpx.Client, headers: dict[str, str], task_id: str, deadline: float
) -> dict[str, Any]:
    while True:
        response = client.get(f"/api/tasks/{task_id}", headers=headers)
        if response.status_code == 200:
            task: dict[str, Any] = response.json()
            if task["status"] in ("completed", "failed", "cancelled"):
                return task
        assert time.monotonic() < deadline, response.text
        time.sleep(0.3)


def _worker_children(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(proc.pid).children()
        if "worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE
    ]


def test_killed_postgres_is_restarted_and_a_new_generation_completes_within_30_s(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with (
        utter_serve(data_dir, {"UTTER_DB_TIMEOUT_SECONDS": "2"}) as (proc, url),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        headers = _signed_up(client)
        voice = _cloned_voice(client, headers)
        # One generation first, so the worker has loaded its engine before the outage.
        first = client.post(
            "/api/generate", headers=headers, json={"voice_id": voice, "text": "Hello there."}
        )
        assert first.status_code == 200, first.text
        assert (
            _finished(client, headers, first.json()["task_id"], time.monotonic() + 300)["status"]
            == "completed"
        )

        postmaster = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 30

        statuses: list[int] = []
        while True:
            response = client.post(
                "/api/generate", headers=headers, json={"voice_id": voice, "text": "Back again."}
            )
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            # While the database is down: a plain 503 with Retry-After, never a 500.
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert "database" in response.json()["detail"].lower()
            assert time.monotonic() < deadline, statuses
            time.sleep(0.5)
        task = _finished(client, headers, response.json()["task_id"], deadline)
        assert task["status"] == "completed", task
        print(
            f"new generation completed {time.monotonic() - killed_at:.1f} s after the kill "
            f"(answers while down: {statuses})"
        )
        assert proc.poll() is None
        health = client.get("/api/health")
        assert health.status_code == 200 and health.json() == {"ok": True}


def test_the_worker_runs_in_a_child_at_lower_priority_and_is_restarted_when_killed(
    tmp_path: Path,
) -> None:
    with utter_serve(tmp_path / "data") as (proc, _url):
        deadline = time.monotonic() + 60
        while not (workers := _worker_children(proc)):
            assert time.monotonic() < deadline, "no worker process"
            time.sleep(0.2)
        (worker,) = workers
        assert worker.pid != proc.pid
        # `utter worker` lowers its own priority as it starts.
        while worker.nice() <= psutil.Process(proc.pid).nice():
            assert time.monotonic() < deadline, "the worker kept the API's priority"
            time.sleep(0.2)

        niceness = worker.nice()
        worker.kill()
        worker.wait(timeout=30)
        while not (again := _worker_children(proc)) or again[0].pid == worker.pid:
            assert time.monotonic() < deadline + 60, "the worker was not started again"
            time.sleep(0.2)
        while again[0].nice() != niceness:
            assert time.monotonic() < deadline + 60, "the new worker kept the API's priority"
            time.sleep(0.2)


def test_a_worker_started_while_the_database_is_down_waits_for_it(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    database = create_database(server.start())
    server.stop()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.update({"DATABASE_URL": database, "UTTER_DATA_DIR": str(tmp_path / "data")})
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def wait_for(text: str) -> None:
            deadline = time.monotonic() + 120
            while text not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)

        wait_for("the database is not reachable")
        server.start()
        wait_for("ready (engine local)")
    finally:
        stop(proc)
        server.stop()
