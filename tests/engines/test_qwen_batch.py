"""Several jobs on one `qwen` engine at once: their chunks share model calls (the real
qwen-tts code on tiny random checkpoints, on CPU), while cancelling, progress, pieces
and failures stay each job's own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.engines.test_qwen import Spy, assert_valid_output
from tests.jobs.conftest import running_studio
from tests.jobs.test_engine_processes import _queue_previews, _statuses, _wait
from tests.support.postgres import free_port, migrated_database
from tests.support.qwen_tiny import TinyQwen, tiny_reference
from tests.support.serve_process import stop
from tests.support.server import app_settings
from utter.api.metrics import create_worker_metrics_app
from utter.cpu import CpuPool
from utter.db import Database
from utter.engines.base import Audio, Cancelled, JobControl
from utter.engines.qwen import QwenEngine
from utter.engines.qwen_batch import EXCLUSIVE, Batcher, run_exclusive
from utter.engines.text import chunk_text

pytestmark = pytest.mark.usefixtures("torch_single_thread")

CHUNK_CHARS = 60
# Long enough that two jobs started together always join each other in a batch (a lone
# job never waits in it: test_a_lone_job_never_waits_for_the_gather_window).
GATHER_SECONDS = 5.0
HANG_GUARD_SECONDS = 120


def sentences(who: str, count: int) -> str:
    """`count` sentences of about 40 characters, each a chunk of its own, naming `who`."""
    return " ".join(f"{who} reads out sentence number {n}." for n in range(count))


@dataclass
class Job:
    """One job's engine call on a thread, with what it saw of its own progress and pieces."""

    name: str
    run: Callable[[JobControl], Audio]
    start_together: threading.Barrier | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    progress: list[tuple[int, int]] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)
    audio: Audio | None = None
    error: BaseException | None = None

    def control(self) -> JobControl:
        def on_progress(done: int, total: int) -> None:
            self.progress.append((done, total))
            # Progress 0 comes once the job is running on the engine and before it sends
            # anything: waiting here makes the jobs start together.
            if done == 0 and self.start_together is not None:
                self.start_together.wait(timeout=HANG_GUARD_SECONDS)

        return JobControl(
            is_cancelled=self.cancelled.is_set,
            on_progress=on_progress,
            on_part=lambda index, total, audio: self.parts.append(index),
        )

    def __call__(self) -> None:
        try:
            self.audio = self.run(self.control())
        except BaseException as error:
            self.error = error
        finally:
            self.ended.set()


def run_at_once(*jobs: Job) -> None:
    barrier = threading.Barrier(len(jobs))
    threads = []
    for job in jobs:
        job.start_together = barrier if len(jobs) > 1 else None
        threads.append(threading.Thread(target=job, name=f"job {job.name}"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG_GUARD_SECONDS)
        assert not thread.is_alive(), f"{thread.name} never ended"


def clone_job(engine: QwenEngine, name: str, text: str, pitch: float) -> Job:
    voice = tiny_reference(f"voice-{name}", pitch=pitch)
    return Job(name, lambda control: engine.generate(text, "English", voice, control))


def speakers(call: dict[str, Any]) -> list[str]:
    """Whose chunks a model call held, in order (each text names its job)."""
    return [text.split()[0] for text in call["text"]]


@pytest.fixture
def engine(tiny_qwen: TinyQwen) -> QwenEngine:
    engine = QwenEngine(
        tiny_qwen.base,
        tiny_qwen.voice_design,
        max_chunk_chars=CHUNK_CHARS,
        batch_size=2,
        max_new_tokens=6,
        gather_seconds=GATHER_SECONDS,
    )
    # Load the model and build both voices' prompts first, so the calls below are chunks.
    for name, pitch in (("Ann", 140.0), ("Bob", 220.0), ("Cy", 180.0)):
        voice = tiny_reference(f"voice-{name}", pitch=pitch)
        engine.generate("Warm up.", "English", voice, JobControl())
    return engine


def test_two_users_jobs_share_model_calls_and_both_complete(
    engine: QwenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate = Spy(monkeypatch, "generate_voice_clone")
    ann = clone_job(engine, "Ann", sentences("Ann", 5), 140.0)
    bob = clone_job(engine, "Bob", sentences("Bob", 5), 220.0)

    run_at_once(ann, bob)

    # Each call holds one chunk of each job (round-robin), the first sentences first.
    ann_chunks = chunk_text(sentences("Ann", 5), CHUNK_CHARS)
    bob_chunks = chunk_text(sentences("Bob", 5), CHUNK_CHARS)
    assert [sorted(call["text"]) for call in generate.calls] == [
        sorted(pair) for pair in zip(ann_chunks, bob_chunks, strict=True)
    ]
    # Each chunk speaks in its own job's voice: one prompt item per text.
    prompts: dict[str, set[int]] = {"Ann": set(), "Bob": set()}
    for call in generate.calls:
        for who, prompt in zip(speakers(call), call["voice_clone_prompt"], strict=True):
            prompts[who].add(id(prompt))
    assert len(prompts["Ann"]) == len(prompts["Bob"]) == 1
    assert prompts["Ann"] != prompts["Bob"]
    for job in (ann, bob):
        assert job.error is None
        assert job.audio is not None
        assert_valid_output(job.audio)
        assert job.parts == [0, 1, 2, 3, 4]
        assert job.progress[0] == (0, 5) and job.progress[-1] == (5, 5)
    engine.close()


def test_cancelling_one_job_drops_its_chunks_and_the_other_completes(
    engine: QwenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = clone_job(engine, "Ann", sentences("Ann", 5), 140.0)
    bob = clone_job(engine, "Bob", sentences("Bob", 5), 220.0)
    generate = Spy(monkeypatch, "generate_voice_clone")
    from qwen_tts import Qwen3TTSModel

    recorded = Qwen3TTSModel.generate_voice_clone

    def cancel_ann_during_the_second_call(model: Any, *args: Any, **kwargs: Any) -> Any:
        if len(generate.calls) == 1:
            # Ann's user cancels while her second group is queued and half in this call;
            # the call goes on only once her job has given up.
            ann.cancelled.set()
            assert ann.ended.wait(timeout=HANG_GUARD_SECONDS)
        return recorded(model, *args, **kwargs)

    monkeypatch.setattr(Qwen3TTSModel, "generate_voice_clone", cancel_ann_during_the_second_call)

    run_at_once(ann, bob)

    assert isinstance(ann.error, Cancelled)
    assert bob.error is None and bob.audio is not None
    assert_valid_output(bob.audio)
    assert bob.parts == [0, 1, 2, 3, 4]
    # Ann's queued third chunk never reached the model, nor anything after it.
    spoken = [sorted(speakers(call)) for call in generate.calls]
    assert spoken == [["Ann", "Bob"], ["Ann", "Bob"], ["Bob"], ["Bob", "Bob"]]
    assert ann.parts == [0]  # the chunk of the call still running when she cancelled is dropped
    engine.close()


def _scrape_sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def test_a_shared_model_call_is_counted_once_in_the_workers_scrape(
    engine: QwenEngine, db: Database, tmp_path: Path
) -> None:
    """Two jobs of one sentence each make one model call of two chunks: the scrape counts
    one call of 2 chunks, its seconds, and at least the audio the two jobs got."""
    settings = app_settings(tmp_path / "data", database_url=db.url, metrics_token="t" * 32)
    app = create_worker_metrics_app(settings, db.url)

    bearer = {"Authorization": f"Bearer {'t' * 32}"}
    ann = clone_job(engine, "Ann", sentences("Ann", 1), 140.0)
    bob = clone_job(engine, "Bob", sentences("Bob", 1), 220.0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            before = (await client.get("/metrics", headers=bearer)).text
            await asyncio.to_thread(run_at_once, ann, bob)
            response = await client.get("/metrics", headers=bearer)
    engine.close()
    assert response.status_code == 200, response.text
    after = response.text

    def added(name: str, **labels: str) -> float:
        return _scrape_sample(after, name, **labels) - _scrape_sample(before, name, **labels)

    assert ann.audio is not None and bob.audio is not None
    assert added("utter_model_call_chunks_count", kind="clone") == 1
    assert added("utter_model_call_chunks_sum", kind="clone") == 2
    # In the bucket of two chunks, not in that of one.
    assert added("utter_model_call_chunks_bucket", kind="clone", le="1.0") == 0
    assert added("utter_model_call_chunks_bucket", kind="clone", le="2.0") == 1
    assert added("utter_model_call_seconds_count", kind="clone") == 1
    assert added("utter_model_call_seconds_sum", kind="clone") > 0
    spoken = sum(len(job.audio.samples) / job.audio.sample_rate for job in (ann, bob))
    assert spoken > 0
    assert added("utter_model_call_audio_seconds_total", kind="clone") >= spoken - 1e-6
    assert added("utter_model_call_chunks_count", kind="design") == 0


def test_the_batcher_reports_its_batched_calls_only_and_survives_a_failing_report() -> None:
    reports: list[tuple[str, list[Any], float]] = []

    def on_call(kind: str, results: Any, seconds: float) -> None:
        reports.append((kind, list(results), seconds))
        if len(reports) == 1:
            raise RuntimeError("a broken metrics directory")

    def run_batch(kind: str, items: Sequence[Any]) -> list[Any]:
        return run_exclusive(items) if kind == EXCLUSIVE else [2 * i for i in items]

    batcher = Batcher(run_batch, 4, on_call=on_call)
    try:
        with batcher.job(JobControl()) as job:
            assert job.call(lambda: "voice prompt") == "voice prompt"  # not a model call
            assert job.run("clone", [1, 2]) == [2, 4]  # its report fails; the job does not
            assert job.run("clone", [3]) == [6]
    finally:
        batcher.close()
    assert [(kind, results) for kind, results, _ in reports] == [("clone", [2, 4]), ("clone", [6])]
    assert all(seconds >= 0 for _, _, seconds in reports)


def test_a_model_error_fails_the_jobs_in_that_batch_only(
    engine: QwenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwen_tts import Qwen3TTSModel

    real = Qwen3TTSModel.generate_voice_clone
    calls: list[list[str]] = []

    def fails_on_a_bad_sentence(model: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["text"])
        if any("number 3" in text for text in kwargs["text"]):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(Qwen3TTSModel, "generate_voice_clone", fails_on_a_bad_sentence)
    ann = clone_job(engine, "Ann", sentences("Ann", 5), 140.0)
    bob = clone_job(engine, "Bob", sentences("Bob", 1), 220.0)  # done after the first call

    run_at_once(ann, bob)

    assert isinstance(ann.error, RuntimeError) and "illegal memory" in str(ann.error)
    assert bob.error is None and bob.audio is not None
    # The engine's thread survived: the next job is served.
    cy = clone_job(engine, "Cy", sentences("Cy", 2), 180.0)
    run_at_once(cy)
    assert cy.error is None and cy.audio is not None
    assert_valid_output(cy.audio)
    engine.close()


def test_a_lone_job_never_waits_for_the_gather_window(
    tiny_qwen: TinyQwen, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window far beyond the hang guard: a job that waited in it even once would still
    # be running when run_at_once gives up on it.
    engine = QwenEngine(
        tiny_qwen.base,
        max_chunk_chars=CHUNK_CHARS,
        batch_size=2,
        max_new_tokens=6,
        gather_seconds=10 * HANG_GUARD_SECONDS,
    )
    generate = Spy(monkeypatch, "generate_voice_clone")
    ann = clone_job(engine, "Ann", sentences("Ann", 5), 140.0)

    run_at_once(ann)

    assert ann.error is None and ann.audio is not None
    # Alone, the job's calls are its own groups, as without a batcher.
    chunks = chunk_text(sentences("Ann", 5), CHUNK_CHARS)
    assert [call["text"] for call in generate.calls] == [chunks[0:1], chunks[1:3], chunks[3:5]]
    engine.close()


def test_design_and_clone_jobs_at_once_never_share_a_call(
    engine: QwenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = Spy(monkeypatch, "generate_voice_clone")
    design = Spy(monkeypatch, "generate_voice_design")
    ann = clone_job(engine, "Ann", sentences("Ann", 3), 140.0)
    text = sentences("Dee", 3)
    dee = Job("Dee", lambda control: engine.design(text, "English", "A calm voice.", control))

    run_at_once(ann, dee)

    assert ann.error is None and dee.error is None
    assert {w for call in clone.calls for w in speakers(call)} == {"Ann"}
    assert {w for call in design.calls for w in speakers(call)} == {"Dee"}
    assert sum(len(call["text"]) for call in design.calls) == 3
    engine.close()


@pytest.mark.slow
async def test_a_worker_batches_two_users_generations_and_cancels_one(
    tiny_qwen: TinyQwen,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    database_url: str,
    cpu: CpuPool,
    tmp_path: Path,
) -> None:
    """Through the queue: two users generate at once on one worker (two jobs at once, one
    engine); some model call holds both users' chunks, and both tasks complete. Then one
    user cancels while both run, and the other's task still completes."""
    engine = QwenEngine(
        tiny_qwen.base,
        max_chunk_chars=CHUNK_CHARS,
        batch_size=4,
        max_new_tokens=6,
        gather_seconds=1.0,
    )
    engine.generate("Warm up.", "English", tiny_reference("warm-up"), JobControl())
    generate = Spy(monkeypatch, "generate_voice_clone")
    texts = {"Ann": sentences("Ann", 8), "Bob": sentences("Bob", 8)}
    try:
        async with running_studio(
            db, database_url, tmp_path / "data", engine, cpu, concurrency=2
        ) as studio:
            users = {name: await studio.user_with_voice() for name in texts}
            started = {
                name: await studio.generate(user, voice, texts[name])
                for name, (user, voice) in users.items()
            }
            finished = {
                name: await studio.wait_for(users[name][0], started[name]["task_id"])
                for name in texts
            }

            # Again, and Ann's user cancels once her first piece is out: Bob's completes.
            first_round = len(generate.calls)
            ann, bob = users["Ann"], users["Bob"]
            long_text = sentences("Ann", 16)
            ann_task = (await studio.generate(ann[0], ann[1], long_text))["task_id"]
            bob_task = (await studio.generate(bob[0], bob[1], texts["Bob"]))["task_id"]
            await studio.wait_for(ann[0], ann_task, until=lambda t: t["chunks_done"] >= 1)
            cancel = await studio.client.post(
                f"/api/tasks/{ann_task}/cancel", headers=ann[0].headers
            )
            assert cancel.json() == {"cancelled": True, "task_id": ann_task}
            bob_done = await studio.wait_for(bob[0], bob_task)
            ann_done = await studio.wait_for(ann[0], ann_task)
    finally:
        engine.close()

    assert bob_done["status"] == "completed", bob_done
    assert bob_done["chunks_done"] == bob_done["chunks_total"] == 8
    assert ann_done["status"] == "cancelled"
    ann_spoken = [w for call in generate.calls[first_round:] for w in speakers(call) if w == "Ann"]
    assert 1 <= len(ann_spoken) < 16

    for name, task in finished.items():
        assert task["status"] == "completed", task
        assert task["chunks_done"] == task["chunks_total"] == 8, name
        assert len(task["audio_parts"]) == 8
    together = generate.calls[:first_round]
    assert any(set(speakers(call)) == {"Ann", "Bob"} for call in together)
    spoken = [text for call in together for text in call["text"]]
    for name, text in texts.items():
        assert sorted(t for t in spoken if t.startswith(name)) == sorted(
            chunk_text(text, CHUNK_CHARS)
        )


@pytest.mark.slow
def test_utter_worker_runs_qwen_jobs_at_once_in_one_process(
    tiny_qwen: TinyQwen, pg_server_url: str, tmp_path: Path
) -> None:
    """`utter worker --engine qwen --concurrency 2`: no engine processes; the two jobs
    run in the worker itself and their chunks share a model call."""
    url = migrated_database(pg_server_url)
    task_ids = asyncio.run(_queue_previews(url, 2))
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTTER_")}
    env.update(
        {
            "DATABASE_URL": url,
            "UTTER_DATA_DIR": str(tmp_path / "data"),
            "UTTER_ENGINE": "qwen",
            "UTTER_QWEN_MODEL_DIR": str(tiny_qwen.base),
            "UTTER_QWEN_DESIGN_MODEL_DIR": str(tiny_qwen.voice_design),
            "UTTER_QWEN_DEVICE": "cpu",
            "UTTER_QWEN_MAX_NEW_TOKENS": "16",
            "UTTER_LOG_LEVEL": "debug",
            "OMP_NUM_THREADS": "1",
            "UTTER_METRICS_TOKEN": "t" * 32,
            "UTTER_WORKER_METRICS_PORT": str(metrics_port),
        }
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "utter", "worker", "--concurrency", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(
            lambda: asyncio.run(_statuses(url, task_ids)) == ["completed", "completed"],
            "the jobs did not complete",
            log,
            proc,
        )
        assert psutil.Process(proc.pid).children(recursive=True) == []
        # The worker's own scrape counts the shared calls, not only the jobs.
        scraped = httpx.get(
            f"http://127.0.0.1:{metrics_port}/metrics",
            headers={"Authorization": f"Bearer {'t' * 32}"},
            timeout=30,
        )
        assert scraped.status_code == 200, scraped.text
    finally:
        stop(proc)
    assert proc.returncode == 0, log.read_text()
    text = log.read_text()
    assert "2 at once" in text
    assert "model call: 2 design requests from 2 jobs" in text, text
    calls = _scrape_sample(scraped.text, "utter_model_call_chunks_count", kind="design")
    assert calls >= 1
    assert (
        _scrape_sample(scraped.text, "utter_model_call_chunks_bucket", kind="design", le="1.0")
        < calls
    )
    assert _scrape_sample(scraped.text, "utter_model_call_seconds_count", kind="design") == calls
    assert _scrape_sample(scraped.text, "utter_model_call_audio_seconds_total", kind="design") > 0
