"""Keeping `utter serve`'s helpers alive: its worker process and its embedded Postgres.

`utter serve` is the whole service on one machine, so nothing else would notice when
one of its parts dies. A worker process that exits is started again (after a pause
that grows while it keeps dying, so a worker that cannot start does not spin); an
embedded Postgres whose postmaster died is started again on the same data and socket,
so the pools, which reconnect by themselves, find it where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence

from utter.db.embedded import EmbeddedPostgres
from utter.settings import Settings

log = logging.getLogger(__name__)


class Backoff:
    """1 s, 2 s, 4 s … up to `ceiling`; back to the start after a long enough good run."""

    def __init__(self, *, first: float = 1.0, ceiling: float = 30.0, healthy_after: float = 60.0):
        self.first = first
        self.ceiling = ceiling
        self.healthy_after = healthy_after
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def delay(self, ran_for: float) -> float:
        if ran_for >= self.healthy_after:
            self.reset()
        delay, self._next = self._next, min(self.ceiling, self._next * 2)
        return delay


class SupervisedProcess:
    """One child process, started again whenever it exits until `stop()` is called."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.backoff = backoff or Backoff()
        self.starts = 0
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            self.process = await asyncio.create_subprocess_exec(*self.argv, env=self.env)
            self.starts += 1
            log.info("%s started (pid %d)", self.name, self.process.pid)
            code = await self.process.wait()
            if self._stopping:
                return
            delay = self.backoff.delay(loop.time() - started)
            log.warning("%s exited with %s; starting it again in %.0f s", self.name, code, delay)
            await asyncio.sleep(delay)

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after `grace_seconds`."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_seconds)
        except TimeoutError:
            log.warning("%s did not stop in %.0f s; killing it", self.name, grace_seconds)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def worker_process(settings: Settings) -> SupervisedProcess:
    """`utter worker` as a child of this process, with exactly these settings (the
    parent's own overrides included) and none inherited from the environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("UTTER_") and key != "DATABASE_URL"
    }
    env.update(settings.as_environment())
    return SupervisedProcess("the job worker", [sys.executable, "-m", "utter", "worker"], env)


class PostgresWatchdog:
    """A thread that starts the embedded Postgres again whenever its postmaster is gone."""

    def __init__(self, server: EmbeddedPostgres, *, interval: float = 1.0) -> None:
        self.server = server
        self.interval = interval
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="postgres-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        backoff = Backoff(first=self.interval, ceiling=15.0, healthy_after=math.inf)
        wait = self.interval
        while not self._stop.wait(wait):
            wait = self.interval
            if self.server.is_running():
                continue
            log.error("the embedded Postgres stopped; starting it again")
            try:
                self.server.start()
            except Exception as exc:
                # Typical right after a crash: the dead postmaster's backends still hold
                # its shared memory for a moment. Try again shortly.
                wait = backoff.delay(0.0)
                log.warning("restarting Postgres failed (%s); trying again in %.0f s", exc, wait)
            else:
                self.restarts += 1
                backoff.reset()
                log.info("the embedded Postgres is running again")
