"""One model, many jobs: the `qwen` engine's batcher.

A GPU spends about as long on a batch of eight chunks as on one, so a worker that runs
several users' jobs at once should put their chunks into the same model calls. Here one
thread owns the model: jobs hand it requests (one chunk each, or one exclusive call
such as building a voice's clone prompt) and wait for their futures; the thread takes
up to `batch_size` waiting requests of one kind, makes one call for all of them, and
resolves each request's future with its own result.

Which requests go together:
- the oldest waiting request decides the kind (clone chunks go with clone chunks,
  design chunks with design chunks), so nothing waits behind newer work for long;
- the batch is filled round-robin across the jobs that have requests of that kind,
  each job's oldest first, so one job with many chunks never fills a batch while
  another job waits;
- while some running job has nothing queued (it is between two groups of its own and
  about to send the next), the thread waits up to `gather_seconds` for it, so its
  chunks join this batch. A job alone never waits: nobody could join it.

A job stays in charge of itself: it sends its next chunks only after its own
cancellation check, it stops waiting as soon as it is cancelled (its queued requests
are dropped, and results of a batch already running are thrown away), and a model error
fails the jobs whose requests were in that batch, never the thread or the other jobs.

Nothing here imports torch: the model calls are the engine's `run_batch`.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from utter.engines.base import Cancelled, JobControl

log = logging.getLogger(__name__)

# How long a batch that is not full waits for running jobs to send their next chunks.
# Sub-millisecond work separates a job's groups, so this is plenty; against a model
# call of seconds on a GPU it costs nothing, and a job alone never pays it.
GATHER_SECONDS = 0.05
# How often a job waiting for its results looks whether it was cancelled.
CANCEL_POLL_SECONDS = 0.05

# The kind of a request that runs alone (not batched): any callable, e.g. building a
# voice's clone prompt, which uses the model too and so belongs on the model's thread.
EXCLUSIVE = "exclusive"

RunBatch = Callable[[str, Sequence[Any]], Sequence[Any]]
# Told of each batched call that succeeded: its kind, its results and its wall seconds.
OnCall = Callable[[str, Sequence[Any], float], None]


@dataclass
class _Request:
    job: int
    kind: str
    item: Any
    seq: int
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


class Batcher:
    """Batches requests of several jobs into single model calls on one thread.

    `run_batch(kind, items)` makes the call and returns one result per item, in order;
    it runs only on the batcher's thread, which starts with the first request.
    `on_call(kind, results, seconds)`, when given, hears of every batched call that
    succeeded (not EXCLUSIVE ones), on the same thread: the calls' own metrics, which a
    job's time cannot tell once it shares calls with others."""

    def __init__(
        self,
        run_batch: RunBatch,
        batch_size: int,
        *,
        gather_seconds: float = GATHER_SECONDS,
        name: str = "utter-qwen-batch",
        on_call: OnCall | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._run_batch = run_batch
        self._on_call = on_call
        self.batch_size = batch_size
        self._gather_seconds = gather_seconds
        self._name = name
        self._cond = threading.Condition()
        # Each running job's queued requests, oldest first; a job is here from `job()`
        # until it returns, queued requests or not.
        self._queues: dict[int, deque[_Request]] = {}
        self._job_ids = itertools.count()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextmanager
    def job(self, control: JobControl) -> Iterator[BatchJob]:
        """A job's handle for the length of its engine call."""
        with self._cond:
            if self._closed:
                raise RuntimeError("The batcher is closed.")
            job_id = next(self._job_ids)
            self._queues[job_id] = deque()
        try:
            yield BatchJob(self, job_id, control)
        finally:
            with self._cond:
                for request in self._queues.pop(job_id, ()):
                    request.future.cancel()
                self._cond.notify_all()

    def close(self) -> None:
        """Stop the thread once its current batch is done; queued requests are cancelled."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    # The jobs' side.

    def _submit(self, job_id: int, kind: str, items: Sequence[Any]) -> list[_Request]:
        with self._cond:
            if self._closed:
                raise RuntimeError("The batcher is closed.")
            queue = self._queues[job_id]
            requests = [_Request(job_id, kind, item, next(self._seq)) for item in items]
            queue.extend(requests)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return requests

    def _withdraw(self, job_id: int) -> None:
        """Drop a job's queued requests (it was cancelled or one of its requests failed)."""
        with self._cond:
            queue = self._queues.get(job_id)
            while queue:
                queue.popleft().future.cancel()
            self._cond.notify_all()

    # The model's side.

    def _serve(self) -> None:
        while True:
            with self._cond:
                batch = self._next_batch()
            if batch is None:
                return
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if not live:
                continue
            log.debug(
                "model call: %d %s requests from %d jobs",
                len(live),
                live[0].kind,
                len({r.job for r in live}),
            )
            kind = live[0].kind
            started = time.perf_counter()
            try:
                results = self._run_batch(kind, [r.item for r in live])
                if len(results) != len(live):
                    raise RuntimeError(
                        f"The model returned {len(results)} results for {len(live)} requests."
                    )
            except BaseException as error:  # the jobs in this batch fail; the thread goes on
                log.warning("a batch of %d %s requests failed: %s", len(live), live[0].kind, error)
                for request in live:
                    request.future.set_exception(error)
                continue
            # Counted before the jobs hear of their results: a job that ended has been counted.
            if self._on_call is not None and kind != EXCLUSIVE:
                try:
                    self._on_call(kind, results, time.perf_counter() - started)
                except Exception:  # a metric is never worth a job or the thread
                    log.exception("observing a model call failed")
            for request, result in zip(live, results, strict=True):
                request.future.set_result(result)

    def _next_batch(self) -> list[_Request] | None:
        """Wait for work, then take the next batch (called holding the lock). None once
        closed."""
        deadline: float | None = None
        while True:
            if self._closed:
                for queue in self._queues.values():
                    while queue:
                        queue.popleft().future.cancel()
                return None
            heads = [queue[0] for queue in self._queues.values() if queue]
            if not heads:
                deadline = None
                self._cond.wait()
                continue
            kind = min(heads, key=lambda r: r.seq).kind
            # Gather only while a running job has nothing queued: it is between two of its
            # groups, about to send the next. Even a full batch waits for it, or one job's
            # group would fill every batch while the other's waits for the next call.
            if kind == EXCLUSIVE or all(self._queues.values()):
                break
            now = time.monotonic()
            deadline = now + self._gather_seconds if deadline is None else deadline
            if now >= deadline:
                break
            self._cond.wait(deadline - now)
        return self._take(kind)

    def _take(self, kind: str) -> list[_Request]:
        if kind == EXCLUSIVE:
            oldest = min((q for q in self._queues.values() if q), key=lambda q: q[0].seq)
            return [oldest.popleft()]
        # Each job's requests of this kind, the job with the oldest one first.
        per_job = [
            deque(r for r in queue if r.kind == kind) for queue in self._queues.values() if queue
        ]
        per_job = sorted((q for q in per_job if q), key=lambda q: q[0].seq)
        batch: list[_Request] = []
        while len(batch) < self.batch_size and any(per_job):
            for queue in per_job:
                if queue and len(batch) < self.batch_size:
                    batch.append(queue.popleft())
        taken = {id(r) for r in batch}
        for job_id, queue in self._queues.items():
            if any(id(r) in taken for r in queue):
                self._queues[job_id] = deque(r for r in queue if id(r) not in taken)
        return batch


class BatchJob:
    """One job's way into the batcher: send requests, wait for them, stop when cancelled."""

    def __init__(self, batcher: Batcher, job_id: int, control: JobControl) -> None:
        self._batcher = batcher
        self._job_id = job_id
        self._control = control

    def run(self, kind: str, items: Sequence[Any]) -> list[Any]:
        """The results for `items`, which go into batches of `kind` (with other jobs'
        items); raises Cancelled as soon as the job is cancelled while it waits."""
        self._control.check()
        requests = self._batcher._submit(self._job_id, kind, items)
        futures = [r.future for r in requests]
        try:
            while True:
                done, pending = concurrent.futures.wait(
                    futures,
                    timeout=CANCEL_POLL_SECONDS,
                    return_when=concurrent.futures.FIRST_EXCEPTION,
                )
                if any(f.done() and not f.cancelled() and f.exception() for f in done):
                    break
                if not pending:
                    break
                self._control.check()
        except BaseException:
            self._batcher._withdraw(self._job_id)
            raise
        if any(f.cancelled() for f in futures):  # the batcher closed under the job
            self._batcher._withdraw(self._job_id)
            raise Cancelled()
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            self._batcher._withdraw(self._job_id)
            error = failed.exception()
            assert error is not None
            raise error
        return [f.result() for f in futures]

    def call(self, fn: Callable[[], Any]) -> Any:
        """`fn()` on the model's thread, between batches."""
        return self.run(EXCLUSIVE, [fn])[0]


def run_exclusive(items: Sequence[Any]) -> list[Any]:
    """What `run_batch` does with an EXCLUSIVE request: call it."""
    return [fn() for fn in items]
