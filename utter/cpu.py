"""CPU-bound calls of the API (decoding, analysis, transcription, transcoding) in processes.

The API process only does I/O. Work that holds the GIL for seconds (pocketsphinx,
WORLD analysis, numpy over a whole recording, an ffmpeg pipe's bookkeeping) would
stall every other request on the event loop, and threads do not help: the GIL is
shared. So the API hands such calls to a small pool of separate processes that
run at a lower CPU priority than the API itself, and awaits the result.

A process killed under the pool (the OOM killer, an operator) breaks the whole
executor; the pool is then rebuilt and the caller gets `CpuUnavailable` (an
`Unavailable` that says to try again in a second), never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import importlib
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from utter.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# A child is replaced after this many calls, so memory a decoder or an analysis held
# at its peak goes back to the system instead of staying with a long-lived process.
TASKS_PER_CHILD = 50


class CpuUnavailable(Unavailable):
    """A CPU process died under a call; the call may be retried (the pool is rebuilt at
    once, so a second is enough)."""

    def __init__(self) -> None:
        super().__init__(
            "The server could not process the audio just now. Please try again.", retry_after=1
        )


def lower_priority(niceness: int) -> None:
    """Run the calling process `niceness` steps below its parent (0: leave it)."""
    if niceness > 0:
        with contextlib.suppress(OSError):
            os.nice(niceness)


def release_freed_memory() -> None:
    """Give the memory glibc keeps after `free()` back to the system (a no-op elsewhere).

    glibc keeps freed heap memory for reuse, and after a big buffer has been freed it
    raises its threshold for mmap, so the next big buffers come from that heap too: a
    process that once decoded a long recording or synthesised a long text would keep its
    peak for good. Called after each such call or job; it costs a few milliseconds."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim  # noqa: B018 - musl has none: then there is nothing to trim
    except (OSError, AttributeError):
        return None
    return libc


def _call_then_release(fn: Callable[..., T], *args: object) -> T:
    try:
        return fn(*args)
    finally:
        release_freed_memory()


def _start_process(niceness: int, preload: Sequence[str]) -> None:
    lower_priority(niceness)
    # Imported at start (numpy, the audio stack): a warm process answers its first call
    # as fast as its hundredth.
    for module in preload:
        importlib.import_module(module)


def _warm() -> int:
    return os.getpid()


class CpuPool:
    """A bounded pool of worker processes for blocking, CPU-heavy calls.

    Processes are spawned (not forked: the API process has threads and an event loop
    whose state a fork would copy) lazily, on the first call or `warm()`."""

    def __init__(self, workers: int, *, niceness: int = 10, preload: Sequence[str] = ()) -> None:
        self.workers = workers
        self.niceness = niceness
        self.preload = tuple(preload)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_process,
                    initargs=(self.niceness, self.preload),
                    max_tasks_per_child=TASKS_PER_CHILD,
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a pool process. `fn` and its arguments must pickle (a
        module-level function); its exceptions come back as raised."""
        executor = self._get()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, _call_then_release, fn, *args)
        except BrokenProcessPool:
            log.warning("a CPU worker process died; starting a new pool")
            self._discard(executor)
            raise CpuUnavailable() from None

    async def warm(self) -> None:
        """Start the processes now, so the first real call does not pay for spawning."""
        await asyncio.gather(*(self.run(_warm) for _ in range(self.workers)))

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
