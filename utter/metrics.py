"""What operators scrape at /metrics: Prometheus metrics of every Utter process.

Counters and histograms (requests, jobs, the engine's real-time factor, storage errors) are
counted where things happen, in whichever process they happen in. `utter serve` may run
several API processes and a worker process, so before it starts any of them it points
prometheus_client's multiprocess mode at a fresh directory (utter.cli); every process
started after that writes its counts there, and a scrape of any one of them adds up all of
them. A process started without that directory (tests, a lone `utter worker`) counts in its
own memory, which is then the whole story.

Gauges that describe a shared state (the queue's depth and oldest job, read from
procrastinate's tables) or one process's state (its database pool) are read at scrape time,
not stored: a stored gauge would keep a dead process's last value.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeAlias, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from utter.db import Database
from utter.errors import Unavailable, UtterError

# The variable prometheus_client reads when it is imported, in this process and in every
# child process (they inherit the environment).
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Requests: seconds from the request's arrival to its last byte sent.
HTTP_REQUESTS = Counter(
    "utter_http_requests_total",
    "HTTP requests answered, by method, route template and status class.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "utter_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS = Counter(
    "utter_jobs_total",
    "Jobs a worker finished, by kind and outcome (succeeded, failed, cancelled).",
    ["kind", "outcome"],
)
JOB_SECONDS = Histogram(
    "utter_job_duration_seconds",
    "Time a worker spent on a job, from taking it to its end, by kind and outcome.",
    ["kind", "outcome"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
ENGINE_RTF = Histogram(
    "utter_engine_realtime_factor",
    "Seconds of audio an engine call made per second of wall time, by engine.",
    ["engine"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
)
ENGINE_AUDIO_SECONDS = Counter(
    "utter_engine_audio_seconds_total", "Seconds of audio engines made, by engine.", ["engine"]
)
ENGINE_WALL_SECONDS = Counter(
    "utter_engine_wall_seconds_total", "Wall seconds engine calls took, by engine.", ["engine"]
)
# A model call that several jobs share (the `qwen` engine's batcher): its job's engine time
# includes waiting for calls made for others, so ENGINE_RTF understates the model; these
# count the calls themselves.
MODEL_CALL_CHUNKS = Histogram(
    "utter_model_call_chunks",
    "Chunks (of any jobs) one batched model call spoke, by kind (clone, design).",
    ["kind"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
)
MODEL_CALL_SECONDS = Histogram(
    "utter_model_call_seconds",
    "Wall seconds of one batched model call, by kind (clone, design).",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128),
)
MODEL_CALL_AUDIO_SECONDS = Counter(
    "utter_model_call_audio_seconds_total",
    "Seconds of audio batched model calls made, by kind (clone, design).",
    ["kind"],
)
STORAGE_ERRORS = Counter(
    "utter_storage_errors_total",
    "Storage operations that failed for a reason other than the request's own "
    "(a missing object is not counted), by backend and operation.",
    ["backend", "operation"],
)

OUTCOMES = {"completed": "succeeded", "failed": "failed", "cancelled": "cancelled"}


def multiprocess_directory() -> str | None:
    # prometheus_client reads the same variable; `utter serve` / `utter worker` set it.
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    status_class = f"{status // 100}xx"
    HTTP_REQUESTS.labels(method, route, status_class).inc()
    HTTP_SECONDS.labels(method, route, status_class).observe(seconds)


def observe_job(kind: str, status: str | None, seconds: float) -> None:
    """A job's end; `status` is its task's status after it (only a finished task counts:
    a job that found its task taken by another worker did nothing)."""
    outcome = OUTCOMES.get(status or "")
    if outcome is None:
        return
    JOBS.labels(kind, outcome).inc()
    JOB_SECONDS.labels(kind, outcome).observe(seconds)


def observe_engine(engine: str, audio_seconds: float, wall_seconds: float) -> None:
    ENGINE_AUDIO_SECONDS.labels(engine).inc(audio_seconds)
    ENGINE_WALL_SECONDS.labels(engine).inc(wall_seconds)
    if wall_seconds > 0:
        ENGINE_RTF.labels(engine).observe(audio_seconds / wall_seconds)


def observe_model_call(kind: str, chunks: int, seconds: float, audio_seconds: float) -> None:
    """One model call of a batcher, whichever jobs its chunks came from."""
    MODEL_CALL_CHUNKS.labels(kind).observe(chunks)
    MODEL_CALL_SECONDS.labels(kind).observe(seconds)
    MODEL_CALL_AUDIO_SECONDS.labels(kind).inc(audio_seconds)


P = ParamSpec("P")
T = TypeVar("T")
StorageMethod: TypeAlias = Callable[P, Coroutine[Any, Any, T]]


def counts_storage_errors(
    backend: str,
) -> Callable[[StorageMethod[P, T]], StorageMethod[P, T]]:
    """Count a storage method's failures. The domain's own answers (no such object, too
    large, not audio, the database being down …) are not failures of the backend."""

    def decorate(method: StorageMethod[P, T]) -> StorageMethod[P, T]:
        @functools.wraps(method)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await method(*args, **kwargs)
            except UtterError:
                raise
            except Exception:
                STORAGE_ERRORS.labels(backend, method.__name__).inc()
                raise

        return counted

    return decorate


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class _ThisProcess(Collector):
    """The process's own registry (no multiprocess mode): its counters, plus the default
    process and platform collectors."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def queue_families(
    rows: Iterable[dict[str, Any]], known: Iterable[tuple[str, str]]
) -> list[Metric]:
    """procrastinate's jobs by queue, task and status (`rows` from
    utter.db.queries.metrics.queue_state), with a zero for each known kind that has none."""
    depth = GaugeMetricFamily(
        "utter_queue_jobs",
        "Queue jobs waiting (todo) or running (doing), by queue and task.",
        labels=["queue", "task", "status"],
    )
    age = GaugeMetricFamily(
        "utter_queue_oldest_job_age_seconds",
        "Age of the oldest waiting job, by queue and task (0 when none waits).",
        labels=["queue", "task"],
    )
    seen: dict[tuple[str, str, str], float] = {}
    ages: dict[tuple[str, str], float] = {}
    for row in rows:
        queue, task, status = row["queue_name"], row["task_name"], row["status"]
        seen[(queue, task, status)] = float(row["jobs"])
        if status == "todo":
            ages[(queue, task)] = float(row["oldest_seconds"] or 0.0)
    for queue, task in known:
        for status in ("todo", "doing"):
            seen.setdefault((queue, task, status), 0.0)
        ages.setdefault((queue, task), 0.0)
    for (queue, task, status), jobs in sorted(seen.items()):
        depth.add_metric([queue, task, status], jobs)
    for (queue, task), seconds in sorted(ages.items()):
        age.add_metric([queue, task], max(0.0, seconds))
    return [depth, age]


# The pools of this process that a scrape reports, by name ("api", "worker").
_POOLS: weakref.WeakValueDictionary[str, Database] = weakref.WeakValueDictionary()


def watch_pool(name: str, db: Database) -> None:
    """Report `db`'s pool in this process's scrapes (until it is garbage)."""
    _POOLS[name] = db


def pool_families(pools: Iterable[tuple[str, dict[str, int]]]) -> list[Metric]:
    """Pools' numbers (psycopg_pool's get_stats()), by the process and pool they belong to."""
    gauge = GaugeMetricFamily(
        "utter_db_pool_connections",
        "Database pools of the scraped process: size limits, open connections, idle ones "
        "and requests waiting for one.",
        labels=["pool", "state"],
    )
    for name, stats in pools:
        for state, key in (
            ("max", "pool_max"),
            ("min", "pool_min"),
            ("open", "pool_size"),
            ("idle", "pool_available"),
            ("waiting", "requests_waiting"),
        ):
            gauge.add_metric([name, state], float(stats.get(key, 0)))
    return [gauge]


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """Everything this process can tell, in Prometheus' text format: every process's counts
    in multiprocess mode, this process's otherwise, plus `extra` read at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_directory()
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_Families(extra))
    return generate_latest(registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST


def token_matches(given: str | None, expected: str) -> bool:
    """Whether an Authorization header carries the metrics token, compared in constant time."""
    if not given:
        return False
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Digests of equal length: the comparison tells nothing, not even the token's length.
    given_digest = hashlib.sha256(token.strip().encode()).digest()
    return hmac.compare_digest(given_digest, hashlib.sha256(expected.encode()).digest())


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


async def scrape(db: Database) -> bytes:
    """The scrape: counters of every process, the queue as the database has it now (read
    through `db`; left out while the database is unreachable: the counters still tell what
    happened), and this process's pools."""
    from utter.db.queries import metrics as queries
    from utter.jobs.queue import DESIGN_PREVIEW, GENERATE, QUEUE

    families: list[Metric] = []
    try:
        async with db.as_service() as conn:
            rows = await queries.queue_state(conn)
    except Unavailable:
        pass
    else:
        families += queue_families(rows, [(QUEUE, GENERATE), (QUEUE, DESIGN_PREVIEW)])
    pid = os.getpid()
    families += pool_families((f"{name}-{pid}", pool.stats()) for name, pool in _POOLS.items())
    # Reading every process's files is file I/O and parsing: off the event loop.
    return await asyncio.to_thread(exposition, families)
