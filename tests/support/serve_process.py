"""`python -m utter serve` as a real process, as a user (or an operator's supervisor) runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port


@contextmanager
def utter_serve(
    data_dir: Path, env: Mapping[str, str] | None = None, *, ready_within: float = 120
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start `utter serve` on a free port with `data_dir` and only the `UTTER_*` / `DATABASE_URL`
    variables in `env` (none inherited), wait until /api/health answers 200, and yield the
    process and its URL; SIGTERM (then SIGKILL) when the block ends. The output goes to
    `data_dir/serve.log`: a pipe nobody reads would fill up and stall the server."""
    port = free_port()
    child_env = child_environment(data_dir, env)
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "serve", "--port", str(port)],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"utter serve did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield proc, url
    finally:
        stop(proc)


def child_environment(data_dir: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment without its `UTTER_*` / `DATABASE_URL`, plus `env` and
    `UTTER_DATA_DIR` (created)."""
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith("UTTER_") and k != "DATABASE_URL"
    }
    child_env.update({"UTTER_DATA_DIR": str(data_dir), **(env or {})})
    data_dir.mkdir(parents=True, exist_ok=True)
    return child_env


@contextmanager
def utter_worker(
    data_dir: Path, env: Mapping[str, str] | None = None, *, log_path: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Start `utter worker` with `data_dir` and only the `UTTER_*` / `DATABASE_URL` variables
    in `env`, and yield the process and its log file (`data_dir/worker.log`, emptied first;
    a `log_path` given is appended to, so workers started one after another share it);
    stopped like `utter serve` when the block ends (unless it has ended already). It does
    not wait: the worker is ready once its log says `worker … ready`."""
    child_env = child_environment(data_dir, env)
    mode = "wb" if log_path is None else "ab"
    log_path = log_path or data_dir / "worker.log"
    with log_path.open(mode) as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "worker"],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc, log_path
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """A graceful stop (SIGTERM), then SIGKILL if it has not ended within a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
