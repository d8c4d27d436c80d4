"""How much memory `utter serve`'s processes hold after a few generations.

    .venv/bin/python -m bench.memory [--generations 5] [--workers 1]

Starts `utter serve` on a temporary data dir (embedded Postgres, the local engine), signs
up, clones a voice from the tests' synthesised speech, generates `--generations` times
(one after the other, each awaited), then reads VmRSS from /proc/<pid>/status for every
process under the server: the API process(es), the job worker(s) and the API's CPU
processes, each group on its own row. Postgres is left out (it is its own daemon, and
its shared buffers are counted once per backend by VmRSS). Prints a table and writes
bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.machine import machine
from tests.support import audio
from tests.support.postgres import free_port

RESULTS = Path(__file__).parent / "results" / "memory.json"
TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling in the "
    "salt wind. Every evening the keeper climbed the spiral stairs and trimmed the wick."
)


def rss_mb(pid: int) -> float:
    """VmRSS of one process in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def role(process: psutil.Process, server_pid: int, workers: int) -> str:
    """Which part of the service a process under `utter serve` is."""
    cmdline = process.cmdline()
    if "multiprocessing" in " ".join(cmdline) or "-c" in cmdline:
        return "cpu"
    if "worker" in cmdline:
        return "worker"
    if process.pid == server_pid:
        return "api" if workers == 1 else "supervisor"
    if "--api-fd" in cmdline:
        return "api"
    return "other"


def snapshot(server_pid: int, workers: int) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    root = psutil.Process(server_pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            name = role(process, server_pid, workers)
        except psutil.Error:
            continue
        groups.setdefault(name, []).append(round(rss_mb(process.pid), 1))
    return groups


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"utter serve did not start:\n{log.read_text()}")
        time.sleep(0.3)


def generate(client: httpx.Client, headers: dict[str, str], voice: str) -> None:
    response = client.post("/api/generate", headers=headers, json={"voice_id": voice, "text": TEXT})
    response.raise_for_status()
    task_id = response.json()["task_id"]
    deadline = time.monotonic() + 600
    while True:
        task = client.get(f"/api/tasks/{task_id}", headers=headers).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            if task["status"] != "completed":
                raise SystemExit(f"generation ended {task['status']}: {task}")
            return
        if time.monotonic() > deadline:
            raise SystemExit("a generation did not finish in 10 minutes")
        time.sleep(0.3)


def measure(generations: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="utter-memory-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("UTTER_") and k != "DATABASE_URL"
        }
        env.update({"UTTER_DATA_DIR": str(data_dir), "UTTER_LOG_LEVEL": "warning"})
        log = data_dir / "serve.log"
        argv = [sys.executable, "-m", "utter", "serve", "--port", str(port)]
        if workers > 1:
            argv += ["--workers", str(workers)]
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log)
            at_start = snapshot(proc.pid, workers)
            with httpx.Client(base_url=url, timeout=120) as client:
                signed = client.post(
                    "/auth/v1/signup",
                    json={"email": "memory@example.test", "password": "a long password 1"},
                )
                signed.raise_for_status()
                headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
                cloned = client.post(
                    "/api/clone",
                    headers=headers,
                    files={"audio": ("me.wav", audio.encode(audio.speech(), "wav"), "audio/wav")},
                    data={"name": "Me", "transcript": audio.TEXT, "language": "English"},
                )
                cloned.raise_for_status()
                voice = str(cloned.json()["id"])
                after_clone = snapshot(proc.pid, workers)
                for _ in range(generations):
                    generate(client, headers, voice)
            # A moment for the worker's after-job cleanup to run.
            time.sleep(2)
            after = snapshot(proc.pid, workers)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"at_start": at_start, "after_clone": after_clone, "after_generations": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="API processes (--workers)")
    args = parser.parse_args()
    result = measure(args.generations, args.workers)
    print(f"RSS in MB ({args.generations} generations, {args.workers} API process(es))")
    print(f"{'process':<12}{'at start':>20}{'after clone':>20}{'after generations':>20}")
    names = sorted({name for snap in result.values() for name in snap})
    for name in names:
        cells = [
            "+".join(f"{mb:.0f}" for mb in result[phase].get(name, [])) or "-"
            for phase in ("at_start", "after_clone", "after_generations")
        ]
        print(f"{name:<12}{cells[0]:>20}{cells[1]:>20}{cells[2]:>20}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": machine(),
                "generations": args.generations,
                "api_processes": args.workers,
                "rss_mb": result,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
