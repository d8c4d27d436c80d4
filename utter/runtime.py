"""What a process needs around the app: the data-dir lock and the database it talks to.

`utter serve` owns its data dir while it runs: it holds an exclusive lock on
`DATA_DIR/utter.lock` (released by the kernel even if the process is killed)
and, when no `DATABASE_URL` is set, starts the embedded Postgres there and
stops it on the way out. Other commands (`utter migrate`, `utter worker`) can
join a running server's embedded database instead of starting their own.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from utter.db.embedded import EmbeddedPostgres
from utter.settings import Settings


class AlreadyRunning(RuntimeError):
    def __init__(self, data_dir: Path, holder: dict[str, object]):
        pid = holder.get("pid", "?")
        url = holder.get("url")
        where = f" at {url}" if url else ""
        super().__init__(
            f"Utter is already running with data dir {data_dir} (pid {pid}){where}. "
            "Stop it first, or use another --data-dir."
        )
        self.holder = holder


@dataclass
class DataDirLock:
    path: Path
    _file: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def describe(self, **info: object) -> None:
        """Record who holds the lock, for the message a second process prints."""
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"pid": os.getpid(), **info}))
        self._file.flush()

    def holder(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@contextmanager
def owned_data_dir(
    settings: Settings, *, supervise: bool = False
) -> Iterator[tuple[DataDirLock, str]]:
    """Take the data dir for this process (as `utter serve` does) and yield its database URL.
    With `supervise`, an embedded Postgres that dies is started again while the block runs.

    Raises AlreadyRunning when another process holds it."""
    from utter.supervise import PostgresWatchdog

    lock = DataDirLock(settings.lock_file)
    if not lock.try_acquire():
        raise AlreadyRunning(settings.data_dir, lock.holder())
    embedded: EmbeddedPostgres | None = None
    watchdog: PostgresWatchdog | None = None
    try:
        if settings.database_url:
            url = settings.database_url
        else:
            embedded = EmbeddedPostgres(settings.postgres_dir)
            url = embedded.start()
            if supervise:
                watchdog = PostgresWatchdog(embedded)
                watchdog.start()
        yield lock, url
    finally:
        if watchdog is not None:
            watchdog.stop()
        if embedded is not None:
            embedded.stop()
        lock.release()


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """A database URL for a short command: `DATABASE_URL`, else the embedded database,
    started for the command and stopped after it unless `utter serve` already runs it."""
    if settings.database_url:
        yield settings.database_url
        return
    lock = DataDirLock(settings.lock_file)
    if lock.try_acquire():
        lock.release()
        with owned_data_dir(settings) as (_, url):
            yield url
        return
    # `utter serve` holds the data dir: its Postgres is running; join it.
    embedded = EmbeddedPostgres(settings.postgres_dir)
    yield embedded.start()
