"""Settings for test apps, and Utter served by uvicorn on a free port in a thread, for tests
that need a real HTTP server (the official Supabase client, browsers, SMTP links)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from utter.app import create_app
from utter.settings import Settings

# Tests share one database, and so the rate-limit counters of the one client IP they all
# come from; limits are tested with their own, low, settings.
GENEROUS_LIMITS = {"auth_rate_limit_per_ip": 1_000_000, "auth_rate_limit_per_email": 1_000_000}


def app_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Embedded defaults with a private data dir; no .env or environment leaks in.

    No in-process job worker unless asked (`serve_worker=True`): every worker on a database
    takes that database's jobs, so a server with a worker needs a database of its own
    (`tests.support.postgres.migrated_database`), or it would run other tests' jobs against
    the wrong storage."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "serve_worker": False,
        **GENEROUS_LIMITS,
        **overrides,
    }
    return Settings(_env_file=None, **values).resolved()  # type: ignore[call-arg]


@contextmanager
def serve_asgi(
    make_app: Callable[[str], ASGIApp], *, lifespan: str = "on", **config: Any
) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free port, in a thread, until the block ends.
    `make_app` gets the server's base URL (so an app can know its own address); `config`
    adds or overrides uvicorn.Config options."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    options: dict[str, Any] = {"log_level": "warning", "lifespan": lifespan, **config}
    server = uvicorn.Server(uvicorn.Config(make_app(url), **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="test-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def serve(settings_for: Callable[[str], Settings]) -> Iterator[str]:
    """Run Utter (opening its own pool, in its own event loop) until the block ends.
    `settings_for` gets the server's base URL (for PUBLIC_URL) and returns its settings."""
    with serve_asgi(lambda url: create_app(settings_for(url))) as url:
        yield url
