"""`utter serve` and `utter migrate` as a user runs them, in a fresh data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from tests.support.postgres import free_port
from utter.db.embedded import EmbeddedPostgres


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.pop("DATABASE_URL", None)
    env["UTTER_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def serving(data_dir: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "utter", "serve", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Utter is running at" in line:
                assert f"http://127.0.0.1:{port}" in line
                break
            assert time.monotonic() < deadline, "utter serve did not start"
        else:
            raise AssertionError(f"utter serve exited with {proc.wait()}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[str], sig: int) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def test_serve_answers_health_refuses_a_second_instance_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    with serving(data_dir, port) as proc:
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"ok": True}
        verbose = httpx.get(f"http://127.0.0.1:{port}/api/health?verbose=1", timeout=10).json()
        assert verbose["database"]["migration"].startswith("0")
        assert "password" not in str(verbose).lower()

        second = subprocess.run(
            [sys.executable, "-m", "utter", "serve", "--port", str(free_port())],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert str(proc.pid) in second.stderr

        # `utter migrate` joins the running server's database rather than starting one.
        migrate = subprocess.run(
            [sys.executable, "-m", "utter", "migrate"],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert migrate.returncode == 0, migrate.stderr
        assert "Nothing to apply" in migrate.stdout

        out = _stop(proc, signal.SIGTERM)
    assert "Utter stopped." in out
    # Postgres was shut down, not left running.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def test_data_survives_a_restart_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    with serving(data_dir, port) as proc:
        url = EmbeddedPostgres(data_dir / "postgres").start()  # joins the running server
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into auth.users (email) values ('kept@example.test')")
        _stop(proc, signal.SIGINT)
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    with serving(data_dir, port) as proc:
        url = EmbeddedPostgres(data_dir / "postgres").start()
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select count(*) from public.profiles p join auth.users u on u.id = p.id"
                " where u.email = 'kept@example.test'"
            ).fetchone()
        assert row == (1,)
        _stop(proc, signal.SIGTERM)
