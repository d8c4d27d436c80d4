"""`utter serve --workers 2`: two API processes answer on one port, a killed one is replaced,
and stopping the server leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.postgres import free_port
from tests.support.serve_process import stop

# Only against a hang (starting Postgres and the processes); nothing waits for it when the
# server behaves.
HANG_GUARD_SECONDS = 120


def _api_processes(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process(proc.pid).children()
        if "--api-fd" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE
    ]


def _wait(
    condition: Callable[[], bool], what: str, log: Path, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()}"
        time.sleep(0.1)


@pytest.mark.slow
def test_two_api_processes_share_the_port_a_killed_one_is_replaced_and_all_stop(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.pop("DATABASE_URL", None)
    env["UTTER_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    descendants: list[psutil.Process] = []
    try:
        _wait(lambda: "Utter is running at" in log.read_text(), "serve did not start", log, proc)
        _wait(lambda: len(_api_processes(proc)) == 2, "not two API processes", log, proc)
        first, second = _api_processes(proc)
        assert proc.pid not in (first.pid, second.pid)

        # Each original API process in turn is killed; the other one answers meanwhile
        # (the port stays open: the socket belongs to the serve process), and the killed
        # one is replaced by a new process.
        seen = {first.pid, second.pid}
        for victim in (first, second):
            victim.kill()
            victim.wait(timeout=30)
            for _ in range(5):
                health = httpx.get(f"{url}/api/health", timeout=30)
                assert health.status_code == 200 and health.json() == {"ok": True}

            def replaced(killed: int = victim.pid) -> bool:
                now = {p.pid for p in _api_processes(proc)}
                return len(now) == 2 and killed not in now

            _wait(replaced, "the killed API process was not replaced", log, proc)
            seen |= {p.pid for p in _api_processes(proc)}
        assert len(seen) == 4
        assert httpx.get(f"{url}/api/health", timeout=30).status_code == 200
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert any("worker" in p.cmdline() for p in descendants), "no job worker"

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=HANG_GUARD_SECONDS)
    finally:
        stop(proc)
    assert proc.returncode == 0, log.read_text()
    assert "Utter stopped." in log.read_text()
    _gone, alive = psutil.wait_procs(descendants, timeout=30)
    assert not alive, alive
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def test_api_processes_share_the_cpu_workers_and_fit_in_max_connections() -> None:
    from utter.cli import (
        QUEUE_CONNECTIONS,
        SPARE_CONNECTIONS,
        api_process_settings,
    )
    from utter.settings import Settings

    settings = Settings(cpu_workers=4, db_pool_max=10, worker_concurrency=4)
    share = api_process_settings(settings, 8, 100)
    assert share.cpu_workers == 1
    # Four one-job engine processes, each with a pool of 4 and procrastinate's connector.
    total = 8 * (share.db_pool_max + QUEUE_CONNECTIONS) + 4 * (4 + 4) + SPARE_CONNECTIONS
    assert total <= 100
    assert share.db_pool_min <= share.db_pool_max
    # Room to spare: the configured pool is kept as it is.
    assert api_process_settings(settings, 2, 1000).db_pool_max == 10


def test_a_qwen_worker_counts_as_one_process_in_the_connection_budget() -> None:
    # qwen runs its N jobs in one worker process (one model, batched calls), so the API
    # processes keep the connections N engine processes would have taken.
    from utter.cli import api_process_settings, worker_processes
    from utter.settings import Settings

    local = Settings(engine="local", db_pool_max=10, worker_concurrency=4)
    qwen = Settings(engine="qwen", db_pool_max=10, worker_concurrency=4)
    assert worker_processes(local) == 4
    assert worker_processes(qwen) == 1
    assert api_process_settings(qwen, 8, 100).db_pool_max == 6
    assert api_process_settings(local, 8, 100).db_pool_max == 3


@pytest.mark.parametrize(
    ("engine", "jobs", "connections"),
    [
        # One job per process: a pool of 4 and a connector of 4, in each of N processes.
        ("local", 1, 8),
        ("local", 4, 32),
        # All N jobs in one process: its pool grows with them (N + 2, at least 4).
        ("qwen", 1, 8),
        ("qwen", 2, 8),
        ("qwen", 8, 14),
        ("qwen", 16, 22),
    ],
)
def test_the_worker_pool_grows_with_its_jobs_and_the_budget_counts_it(
    engine: str, jobs: int, connections: int
) -> None:
    from utter.cli import worker_connections
    from utter.jobs.worker import worker_pool_size
    from utter.settings import Settings

    settings = Settings(engine=engine, worker_concurrency=jobs)
    assert worker_connections(settings) == connections
    if engine == "qwen":
        assert worker_pool_size(jobs) == max(4, jobs + 2)
    # The metrics port's pool of the worker counts too, when it is on.
    metered = Settings(
        engine=engine, worker_concurrency=jobs, worker_metrics_port=9100, metrics_token="t" * 32
    )
    assert worker_connections(metered) == connections + 2


def test_a_qwen_worker_with_many_jobs_leaves_the_api_processes_less() -> None:
    from utter.cli import SPARE_CONNECTIONS, api_process_settings, worker_connections
    from utter.settings import Settings

    few = Settings(engine="qwen", db_pool_max=20, worker_concurrency=2)
    many = Settings(engine="qwen", db_pool_max=20, worker_concurrency=40)
    assert worker_connections(many) == 42 + 4
    # 100 - 10 spare - 46 for the worker = 44 for 4 API processes: 11 each, 4 of them
    # procrastinate's.
    assert api_process_settings(many, 4, 100).db_pool_max == 7
    assert api_process_settings(few, 4, 100).db_pool_max == 16
    share = api_process_settings(many, 4, 100)
    assert 4 * (share.db_pool_max + 4) + worker_connections(many) + SPARE_CONNECTIONS <= 100
