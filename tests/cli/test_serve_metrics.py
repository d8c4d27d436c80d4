"""`utter serve --workers 2` with metrics on: whichever process answers a scrape (an API
process, or the worker on its own port) counts the requests every API process answered."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.postgres import free_port
from tests.support.serve_process import stop

TOKEN = "serve-metrics-token"
HANG_GUARD_SECONDS = 120


def _requests_to(text: str, route: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "utter_http_requests_total" and s.labels.get("route") == route:
                return float(s.value)
    return 0.0


def _wait(condition: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()}"
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 401
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_a_scrape_of_any_process_counts_every_api_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    # An earlier run's counts are not added in.
    (data_dir / "metrics").mkdir()
    (data_dir / "metrics" / "counter_1.db").write_bytes(b"stale")
    port, worker_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.pop("DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        UTTER_DATA_DIR=str(data_dir),
        UTTER_METRICS_TOKEN=TOKEN,
        UTTER_WORKER_METRICS_PORT=str(worker_port),
    )
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: "Utter is running at" in log.read_text(), "serve did not start", log)
        _wait(lambda: _answers(f"http://127.0.0.1:{worker_port}/metrics"), "no worker port", log)
        # A new connection each time: both API processes accept from the one socket.
        for _ in range(20):
            with httpx.Client(timeout=30) as client:
                assert client.get(f"{url}/api/limits").status_code == 200
        for scraped in (f"{url}/metrics", f"http://127.0.0.1:{worker_port}/metrics"):
            response = httpx.get(scraped, headers=bearer, timeout=30)
            assert response.status_code == 200, response.text
            assert _requests_to(response.text, "/api/limits") == 20, scraped
        assert not (data_dir / "metrics" / "counter_1.db").exists()
    finally:
        stop(proc)
    assert proc.returncode == 0, log.read_text()
