"""Utter deployed as docs/deploy.md describes, on one machine: Debian's PostgreSQL 15 as the
shared database, an S3 server for objects, two `utter serve` replicas that run no worker and
share their secrets, and two `utter worker` processes. A client uses both replicas as one
service, the worker running its generation is SIGKILLed mid-job, the other one finishes it,
and every job is shown to have run to completion exactly once."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.support import audio
from tests.support.api import TaskApi, sign_up
from tests.support.postgres import DEBIAN_PG_BIN, DebianPostgres, create_database
from tests.support.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3TestServer
from tests.support.serve_process import child_environment, utter_serve, utter_worker
from utter.audio.decode import decode

pytestmark = pytest.mark.slow

BUCKETS = {"references": "deploy-references", "generations": "deploy-generations"}
# Long enough that the local engine takes several seconds over it, in several chunks (the
# first sentence alone, then windows of up to 400 characters): the kill lands mid-job.
TEXT = " ".join(audio.SENTENCES * 3)
READY = re.compile(r"worker \S+ ready")


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self, task_id: str) -> bool:
        """Whether this worker's log says it started the job of `task_id` (procrastinate logs
        `Starting job utter.generate[<job id>](…task_id='…')`)."""
        return any(
            "Starting job utter.generate[" in line and task_id in line
            for line in self.text().splitlines()
        )


@dataclass
class Deployment:
    database_url: str
    s3: S3TestServer
    replicas: tuple[str, str]
    workers: tuple[Worker, Worker]

    def sql(self, query: str, *params: object) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()


def _shared_environment(database_url: str, s3: S3TestServer) -> dict[str, str]:
    """What every replica and worker must share (docs/deploy.md): the database, the secrets
    that sign tokens and URLs, and the object store."""
    return {
        "DATABASE_URL": database_url,
        "UTTER_JWT_SECRET": secrets.token_urlsafe(48),
        "UTTER_STORAGE_SIGNING_SECRET": secrets.token_urlsafe(48),
        "UTTER_STORAGE_BACKEND": "s3",
        "UTTER_S3_ENDPOINT_URL": s3.url,
        "UTTER_S3_REGION": REGION,
        "UTTER_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "UTTER_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "UTTER_S3_BUCKET_REFERENCES": BUCKETS["references"],
        "UTTER_S3_BUCKET_GENERATIONS": BUCKETS["generations"],
        "UTTER_S3_PATH_STYLE": "true",
        "UTTER_SERVE_WORKER": "false",
        "UTTER_CPU_WORKERS": "1",
        # Tight bounds so a dead worker is noticed within seconds (production: 2 s / 30 s / 5 s).
        "UTTER_WORKER_HEARTBEAT_SECONDS": "0.5",
        "UTTER_TASK_STALE_SECONDS": "4",
        "UTTER_SWEEP_INTERVAL_SECONDS": "1",
    }


def _wait_until_ready(workers: tuple[Worker, Worker], within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not all(READY.search(w.text()) for w in workers):
        for w in workers:
            assert w.proc.poll() is None, f"utter worker exited:\n{w.text()[-3000:]}"
        assert time.monotonic() < deadline, [w.text()[-2000:] for w in workers]
        time.sleep(0.2)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    assert (DEBIAN_PG_BIN / "initdb").exists(), (
        "Debian's postgresql-15 is not installed; scripts/install-test-deps.sh installs it"
    )
    base = tmp_path_factory.mktemp("deploy")
    with ExitStack() as stack:
        postgres = DebianPostgres(base)
        stack.callback(postgres.stop)
        database_url = create_database(postgres.start(), "utter_deploy")

        s3 = S3TestServer()
        s3.start()
        stack.callback(s3.stop)
        client = s3.client()
        for bucket in BUCKETS.values():
            client.create_bucket(Bucket=bucket)
        # Every write of an object is kept as a version: "stored once" can be counted.
        client.put_bucket_versioning(
            Bucket=BUCKETS["generations"], VersioningConfiguration={"Status": "Enabled"}
        )

        env = _shared_environment(database_url, s3)
        # Upgrades and first installs alike: migrations first, then the processes.
        migrated = subprocess.run(
            [sys.executable, "-m", "utter", "migrate"],
            env=child_environment(base / "migrate", env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0 and "Applied" in migrated.stdout, migrated.stderr
        # The workers load their engines while the replicas start.
        workers = (
            Worker(*stack.enter_context(utter_worker(base / "worker-1", env))),
            Worker(*stack.enter_context(utter_worker(base / "worker-2", env))),
        )
        replicas = (
            stack.enter_context(utter_serve(base / "replica-1", env))[1],
            stack.enter_context(utter_serve(base / "replica-2", env))[1],
        )
        _wait_until_ready(workers)
        yield Deployment(database_url, s3, replicas, workers)


def _wait_for(condition: Callable[[], object], what: str, within: float = 120) -> float:
    """Poll `condition()` until true; the seconds it took."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within, f"never happened: {what}"
        time.sleep(0.1)
    return time.monotonic() - began


async def test_two_replicas_two_workers_on_s3_survive_a_worker_killed_mid_job(
    deployment: Deployment,
) -> None:
    one, two = deployment.replicas
    s3_url = deployment.s3.url
    async with (
        httpx.AsyncClient(base_url=one, timeout=60) as replica_1,
        httpx.AsyncClient(base_url=two, timeout=60) as replica_2,
    ):
        user = await sign_up(replica_1)
        # A session made on one replica is good on the other: one database, one JWT secret.
        me = await replica_2.get("/api/me", headers=user.headers)
        assert me.status_code == 200, me.text

        # Clone on replica 2, the reference going straight to S3 with the presigned URL.
        fields = {"name": "Reader", "language": "English", "transcript": audio.TEXT}
        upload = await replica_2.post("/api/clone/upload-url", json=fields, headers=user.headers)
        assert upload.status_code == 200, upload.text
        upload_url = upload.json()["upload_url"]
        assert upload_url.startswith(f"{s3_url}/{BUCKETS['references']}/{user.id}/")
        put = await replica_2.put(upload_url, content=audio.encode(audio.speech(), "wav"))
        assert put.status_code == 200, put.text
        voice = await replica_2.post(
            "/api/clone/finalize",
            json={"voice_id": upload.json()["voice_id"], **fields},
            headers=user.headers,
        )
        assert voice.status_code == 200, voice.text

        # Generate on replica 1, follow on replica 2 until the first piece is out.
        started = await TaskApi(replica_1).generate(user, voice.json()["id"], TEXT)
        task_id, generation_id = started["task_id"], started["generation_id"]
        follow = TaskApi(replica_2)
        running = await follow.wait_for(
            user,
            task_id,
            until=lambda t: t["status"] == "processing" and t["chunks_done"] >= 1,
            within=120,
        )
        assert running["chunks_done"] < running["chunks_total"], running

        # The worker whose log says it started this task's job dies without a word.
        runners = [w for w in deployment.workers if w.started(task_id)]
        assert len(runners) == 1, [w.text()[-2000:] for w in deployment.workers]
        victim = runners[0]
        survivor = next(w for w in deployment.workers if w is not victim)
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        killed_at = time.monotonic()

        def task_row() -> dict[str, Any]:
            return deployment.sql(
                "select status, attempts from public.tasks where id = %s", task_id
            )[0]

        picked_up = _wait_for(
            lambda: task_row()["attempts"] == 2 and survivor.started(task_id),
            "the surviving worker takes the killed worker's task",
            within=60,
        )
        task = await follow.wait_for(user, task_id, within=180)
        finished = time.monotonic() - killed_at
        assert task["status"] == "completed", (task, survivor.text()[-3000:])
        assert task["chunks_done"] == task["chunks_total"]
        # The retry published its pieces afresh: each once, none left over from the killed run.
        parts = [part["index"] for part in task["audio_parts"]]
        assert parts == list(range(task["chunks_total"])), parts

        # The audio, through the S3 presigned URL replica 2 redirects to, decodes.
        redirect = await replica_2.get(task["result"]["audio_url"], headers=user.headers)
        assert redirect.status_code == 302, redirect.text
        location = redirect.headers["location"]
        assert location.startswith(f"{s3_url}/{BUCKETS['generations']}/{user.id}/")
        clip = await replica_2.get(location)
        assert clip.status_code == 200, clip.text
    decoded = decode(clip.content)
    seconds = len(decoded.samples) / decoded.sample_rate
    # Read aloud, English runs at 12-20 characters a second.
    assert len(TEXT) / 25 < seconds < len(TEXT) / 8, seconds

    # Exactly once. The killed worker's queue job is closed as failed by a sweeper (and not
    # retried by procrastinate); the sweeper's one new job succeeded; nothing else ran.
    _wait_for(
        lambda: (
            not deployment.sql(
                "select id from procrastinate.procrastinate_jobs where status = 'doing'"
            )
        ),
        "the killed worker's queue job is closed",
        within=30,
    )
    jobs = deployment.sql(
        "select id, status, args->>'task_id' as task_id from procrastinate.procrastinate_jobs"
        " order by id"
    )
    assert [(j["status"], j["task_id"]) for j in jobs] == [
        ("failed", task_id),
        ("succeeded", task_id),
    ]
    starts = deployment.sql(
        "select job_id, count(*) as n from procrastinate.procrastinate_events"
        " where type = 'started' group by job_id order by job_id"
    )
    assert [(s["job_id"], s["n"]) for s in starts] == [(j["id"], 1) for j in jobs]
    assert task_row() == {"status": "completed", "attempts": 2}
    generations = deployment.sql(
        "select id, status from public.generations where user_id = %s", user.id
    )
    assert [(str(g["id"]), g["status"]) for g in generations] == [(generation_id, "completed")]
    # The finished clip was written to the store once (the bucket keeps every write).
    key = f"{user.id}/{generation_id}.wav"
    versions = deployment.s3.client().list_object_versions(
        Bucket=BUCKETS["generations"], Prefix=key
    )
    assert [v["Key"] for v in versions.get("Versions", [])] == [key]
    print(
        f"\nkilled worker's task taken by the other worker {picked_up:.1f} s after SIGKILL, "
        f"completed {finished:.1f} s after it; {seconds:.1f} s of audio"
    )
