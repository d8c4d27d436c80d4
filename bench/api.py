"""What the API's read routes cost at scale, as ratios to GET /api/health on the same server.

Starts an embedded Postgres in a temporary directory, seeds it with server-side SQL (as
the table owner: users, a few voices and a finished task each, and `--generations` rows
spread over `--users` users, the measured user holding half a percent of them), then runs
`python -m utter serve` on it (a real uvicorn on a free port, the worker off) and measures
through the public HTTP API only, each route for `--seconds` at 1 and at `--clients`
concurrent keep-alive clients:

* health (the baseline), the task poll (`GET /api/tasks/{id}`), the voices list;
* the generations list: page 1, a deep page (`--deep-page`), and a search.

Clients are plain keep-alive HTTP/1.1 connections on asyncio streams (far cheaper than an
HTTP library's) in `--client-procs` processes, so the client is not what limits req/s: the
table shows the server's CPU use per route, near 1.0 (one core) when the server is the limit.
Server CPU per request is the server process's CPU time (/proc/<pid>/stat) over the
requests it answered in the concurrent run.

    .venv/bin/python -m bench.api [--generations 1000000] [--seconds 5] [--clients 50]

Prints a table and writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from bench.machine import machine
from tests.support.serve_process import utter_serve
from utter.db.embedded import EmbeddedPostgres
from utter.db.migrate import migrate

EMAIL = "measured@bench.test"
PASSWORD = "bench-password"  # noqa: S105 - a throwaway account in a throwaway database
SEARCH = "garden"
# Texts the seeded generations cycle through; SEARCH is in one of them in four.
TEXTS = (
    "The weather is nice today, so we will walk to the park after lunch.",
    "My brother likes to read books in the garden on quiet afternoons.",
    "Please call me when you get home tonight, we need to plan the weekend.",
    "We need to buy some bread and milk before the store closes.",
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (utime and stime of /proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(url: str, *, users: int, generations: int, voices_per_user: int) -> None:
    """Rows as the server would write them, made by the database itself (fast): only the
    columns every schema since the first has, so columns added later take their defaults."""
    mine = max(1, generations // 200)
    others = max(0, generations - mine)
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("select id from auth.users where email = %s", (EMAIL,)).fetchone()
        assert found is not None, "sign the measured user up first"
        me = found[0]
        conn.execute(
            """
            insert into auth.users (id, aud, role, email)
            select gen_random_uuid(), 'authenticated', 'authenticated',
                   'seeded-' || n || '@bench.test'
              from generate_series(1, %s) n
            """,
            (users - 1,),
        )
        conn.execute(
            """
            insert into public.voices (user_id, name, source, language, reference_transcript,
                                       reference_object_key)
            select u.id, 'Voice ' || v, 'uploaded', 'English', 'Hello there.',
                   u.id || '/' || gen_random_uuid() || '/reference.wav'
              from auth.users u, generate_series(1, %s) v
            """,
            (voices_per_user,),
        )
        peaks = _peaks_expression(conn)
        # The measured user's rows first, then everyone else's spread evenly.
        for owner_filter, count in (("u.id = %(me)s", mine), ("u.id <> %(me)s", others)):
            conn.execute(
                f"""
                with owners as (
                  select u.id, row_number() over (order by u.id) - 1 as k,
                         (select v.id from public.voices v where v.user_id = u.id limit 1) as voice
                    from auth.users u where {owner_filter}
                ), n as (select count(*) as total from owners)
                insert into public.generations (user_id, voice_id, text, audio_object_key,
                    duration_seconds, language, status, generation_time_seconds, created_at,
                    completed_at, peaks)
                select o.id, o.voice, (%(texts)s::text[])[1 + i %% 4] || ' #' || i,
                       o.id || '/' || gen_random_uuid() || '.wav', 3.5, 'English', 'completed',
                       2.0, now() - make_interval(secs => i), now() - make_interval(secs => i),
                       {peaks}
                  from generate_series(0, %(count)s - 1) i
                  cross join n
                  join owners o on o.k = (i %% n.total)
                """,
                {"me": me, "texts": list(TEXTS), "count": count},
            )
        conn.execute(
            """
            insert into public.tasks (user_id, type, status, generation_id, voice_id,
                                      metadata, result, completed_at)
            select g.user_id, 'generate', 'completed', g.id, g.voice_id,
                   '{"text_preview": "Hello", "voice_name": "Voice 1", "language": "English"}',
                   jsonb_build_object('audio_url', '/api/generations/' || g.id || '/audio'),
                   now()
              from (select distinct on (user_id) user_id, id, voice_id
                      from public.generations order by user_id, created_at desc) g
            """
        )
        conn.execute("vacuum analyze")


def _peaks_expression(conn: psycopg.Connection[Any]) -> str:
    """400 peaks in whatever form the schema stores them (its type may change), or null."""
    row = conn.execute(
        "select udt_name from information_schema.columns"
        " where table_schema = 'public' and table_name = 'generations' and column_name = 'peaks'"
    ).fetchone()
    kind = row[0] if row else None
    return {
        "_float4": "(select array_agg(random()::real) from generate_series(1, 400))",
        "_int2": "(select array_agg((random() * 255)::smallint) from generate_series(1, 400))",
        "bytea": "(select string_agg(decode(lpad(to_hex((random() * 255)::int), 2, '0'), 'hex'), ''"
        "::bytea) from generate_series(1, 400))",
    }.get(str(kind), "null")


def _client_proc(
    url: str,
    path: str,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    out: Any,
    go: Any,
) -> None:
    out.send(asyncio.run(_clients(url, path, headers, clients, seconds, out, go)))


class _Connection:
    """One keep-alive HTTP/1.1 connection doing GETs with asyncio streams: a tenth of an
    httpx client's CPU per request, so the clients leave the cores to the server."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        if fields.get("transfer-encoding") == "chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            body = await self.reader.readexactly(int(fields.get("content-length", "0")))
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _clients(
    url: str, path: str, headers: dict[str, str], clients: int, seconds: float, out: Any, go: Any
) -> dict[str, Any]:
    """Connect `clients` clients, say so on `out`, wait for `go`, then request `path` in a
    loop on each for `seconds`."""
    latencies: list[float] = []
    errors: list[int] = []
    conns = [_Connection(url, headers) for _ in range(clients)]
    # Connected (and the route warm) before the clock starts.
    await asyncio.gather(*(conn.get(path) for conn in conns))
    out.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    until = time.monotonic() + seconds

    async def one(conn: _Connection) -> None:
        while time.monotonic() < until:
            started = time.perf_counter()
            status, _ = await conn.get(path)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)

    await asyncio.gather(*(one(conn) for conn in conns))
    for conn in conns:
        await conn.close()
    return {"latencies": latencies, "errors": errors}


def measure(
    url: str, pid: int, path: str, headers: dict[str, str], clients: int, seconds: float, procs: int
) -> dict[str, Any]:
    """`clients` keep-alive clients on `path` for `seconds`, in up to `procs` processes;
    the server's CPU time is read from when they all start to when they all stop."""
    procs = max(1, min(procs, clients))
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    pipes = []
    children = []
    for share in shares:
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_client_proc, args=(url, path, headers, share, seconds, send, go), daemon=True
        )
        child.start()
        pipes.append(receive)
        children.append(child)
    for pipe in pipes:
        assert pipe.recv() == "ready"
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    go.set()
    results = [pipe.recv() for pipe in pipes]
    wall = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    for child in children:
        child.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = [x for r in results for x in r["errors"]]
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, round(p * (n - 1)))] * 1000 if n else float("nan")

    return {
        "clients": clients,
        "requests": n,
        "errors": len(errors),
        "req_per_s": n / seconds,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "server_cpu_ms_per_request": cpu / n * 1000 if n else float("nan"),
        "server_cpu_share": cpu / wall,
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    pg = EmbeddedPostgres(workdir / "pg")
    url = pg.start()
    try:
        migrate(url)
        env = {
            "UTTER_DATABASE_URL": url,
            "UTTER_SERVE_WORKER": "false",
            "UTTER_LOG_LEVEL": "warning",
            "UTTER_AUTH_RATE_LIMIT_PER_IP": "1000000",
        }
        with utter_serve(workdir / "data", env) as (proc, base):
            signup = httpx.post(
                f"{base}/auth/v1/signup", json={"email": EMAIL, "password": PASSWORD}, timeout=60
            )
            signup.raise_for_status()
            headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
            started = time.monotonic()
            seed(url, users=args.users, generations=args.generations, voices_per_user=3)
            seeding = time.monotonic() - started
            tasks = httpx.get(f"{base}/api/tasks", headers=headers, timeout=60).json()["tasks"]
            per_page = 20
            routes = {
                "health": ("/api/health", {}),
                "task poll": (f"/api/tasks/{tasks[0]['id']}", headers),
                "voices": ("/api/voices", headers),
                "generations p1": (f"/api/generations?page=1&per_page={per_page}", headers),
                f"generations p{args.deep_page}": (
                    f"/api/generations?page={args.deep_page}&per_page={per_page}",
                    headers,
                ),
                "search": (f"/api/generations?page=1&per_page={per_page}&search={SEARCH}", headers),
            }
            figures: dict[str, dict[str, Any]] = {}
            for name, (path, hdrs) in routes.items():
                check = httpx.get(f"{base}{path}", headers=hdrs, timeout=60)
                check.raise_for_status()
                figures[name] = {
                    "path": path,
                    "bytes": len(check.content),
                    "at_1": measure(base, proc.pid, path, hdrs, 1, args.seconds, 1),
                    f"at_{args.clients}": measure(
                        base, proc.pid, path, hdrs, args.clients, args.seconds, args.client_procs
                    ),
                }
    finally:
        pg.stop()
    return {
        "machine": machine(),
        "generations": args.generations,
        "users": args.users,
        "measured_user_generations": max(1, args.generations // 200),
        "seconds_per_run": args.seconds,
        "clients": args.clients,
        "client_procs": args.client_procs,
        "seeding_seconds": seeding,
        "routes": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per route and concurrency")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--deep-page", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="utter-bench-api-") as tmp:
        result = run(args, Path(tmp))
    many = f"at_{args.clients}"
    health = result["routes"]["health"]
    print(
        f"{args.generations} generations over {args.users} users (measured user:"
        f" {result['measured_user_generations']}), {args.seconds:.0f} s per run,"
        f" {os.cpu_count()} CPUs\n"
    )
    print(
        f"{'route':<17} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'× health':>9} {'cpu ms/req':>10} {'srv cpu':>8} {'errors':>6}"
    )
    for name, route in result["routes"].items():
        for key in ("at_1", many):
            r = route[key]
            ratio = r["req_per_s"] / health[key]["req_per_s"]
            route[key]["ratio_to_health"] = ratio
            print(
                f"{name:<17} {r['clients']:>7} {r['req_per_s']:>8.0f} {r['p50_ms']:>8.2f}"
                f" {r['p99_ms']:>8.2f} {ratio:>9.2f} {r['server_cpu_ms_per_request']:>10.2f}"
                f" {r['server_cpu_share']:>8.2f} {r['errors']:>6}"
            )
    out = Path(__file__).parent / "results" / "api.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
