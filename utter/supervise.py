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
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.backoff = backoff or Backoff()
        self.pass_fds = tuple(pass_fds)
        self.starts = 0
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, pass_fds=self.pass_fds
            )
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


def _child_environment(settings: Settings) -> dict[str, str]:
    """Exactly these settings (the parent's own overrides included), none inherited."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("UTTER_") and key != "DATABASE_URL"
    }
    env.update(settings.as_environment())
    return env


def worker_process(settings: Settings) -> SupervisedProcess:
    """`utter worker` as a child of this process, with exactly these settings."""
    return SupervisedProcess(
        "the job worker", [sys.executable, "-m", "utter", "worker"], _child_environment(settings)
    )


def engine_processes(settings: Settings, count: int) -> list[SupervisedProcess]:
    """`count` one-job `utter worker` children, each with its own engine: what
    `utter worker --concurrency N` runs, so N engine calls use N cores."""
    env = _child_environment(settings.model_copy(update={"worker_concurrency": 1}))
    argv = [sys.executable, "-m", "utter", "worker", "--child-of", str(os.getpid())]
    return [SupervisedProcess(f"engine process {n}", argv, env) for n in range(1, count + 1)]


def api_processes(settings: Settings, listening_fd: int, count: int) -> list[SupervisedProcess]:
    """`count` API processes (`utter serve --api-fd`) accepting on one listening socket,
    with these settings as they are: the caller divides the pools among them."""
    env = _child_environment(settings.model_copy(update={"serve_worker": False}))
    argv = [
        sys.executable,
        "-m",
        "utter",
        "serve",
        "--api-fd",
        str(listening_fd),
        "--child-of",
        str(os.getpid()),
    ]
    return [
        SupervisedProcess(f"API process {n}", argv, env, pass_fds=(listening_fd,))
        for n in range(1, count + 1)
    ]


async def run_all(processes: Sequence[SupervisedProcess], stop: asyncio.Event) -> None:
    """Keep `processes` running until `stop` is set, then stop them all at once."""
    running = [asyncio.create_task(p.run(), name=f"supervise {p.name}") for p in processes]
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


# prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM this process when `parent_pid` (its supervisor) dies, however it dies, so a
    supervisor killed with SIGKILL leaves no orphans running jobs or holding the port."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # The parent may have died before prctl took effect: then we are already adopted.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


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
