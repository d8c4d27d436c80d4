"""What a worker does with one job: claim the task, run the engine, store, finish.

The task row decides everything. A job whose task is no longer pending (it was
cancelled, or another worker has it) does nothing. While the engine runs on the
worker's engine thread, a heartbeat records progress every few seconds and learns
whether the task is still wanted; if not, the engine is told to stop before its
next chunk.
Finishing happens once, under the task's row lock: the finisher that holds it
stores the audio at its deterministic key and completes the generation and the
task in the same transaction; any other finisher then finds the task done.

A generation's pieces (one per engine chunk, `JobControl.part`) are published while
the engine goes on: each is stored as a WAV next to where the clip will be and
appended to the task's `audio_parts` with a notification (`PiecePublisher`), so a
listener hears the start of the clip long before the end exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import soundfile as sf

from utter.audio.convert import encode_wav
from utter.audio.peaks import STORED_PEAKS
from utter.audio.peaks import peaks as compute_peaks
from utter.audio.tempo import change_tempo
from utter.db import Database
from utter.db.queries import tasks, voices
from utter.engines.base import (
    AnalysesSpeakers,
    Audio,
    Cancelled,
    Engine,
    EngineError,
    JobControl,
    Reference,
    UnsupportedLanguage,
)
from utter.engines.stock import stock_reference
from utter.errors import Failed
from utter.metrics import observe_engine
from utter.storage import Storage

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Generation failed. Please try again."


@dataclass
class WorkerContext:
    db: Database
    storage: Storage
    engine: Engine
    # Where engine calls run (the worker's own, sized to what the engine can run at once),
    # so a call never holds a thread of the default executor that storage, encoding and
    # the database driver share, and calls waiting for the engine hold no thread at all.
    engine_executor: Executor
    heartbeat_seconds: float = 2.0
    cancel_poll_seconds: float = 0.5


class JobFailed(Failed):
    """A failure whose message is meant for the user."""


def part_key(user_id: UUID, generation_id: UUID, index: int) -> str:
    """Where piece `index` of a generation is stored in the `generations` bucket."""
    return f"{user_id}/{generation_id}/part-{index:04d}.wav"


class PiecePublisher:
    """Publishes a generation's pieces in order while the engine goes on.

    The engine thread hands each piece over (`on_part`, which only enqueues); one task on
    the worker's loop encodes it (in a thread), stores it and appends it to the task with
    its notification. A piece that cannot be published is logged and skipped: pieces
    are for listening early, the finished clip is what counts."""

    def __init__(self, ctx: WorkerContext, task: dict[str, Any], speed: float = 1.0) -> None:
        self._ctx = ctx
        self._speed = speed
        self._task_id: UUID = task["id"]
        self._user_id: UUID = task["user_id"]
        self._generation_id: UUID = task["generation_id"]
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[int, Audio] | None] = asyncio.Queue()
        self._runner = self._loop.create_task(self._run())

    def on_part(self, index: int, total: int, audio: Audio) -> None:
        """Called on the engine thread."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (index, audio))

    async def drain(self) -> None:
        """Wait until every piece handed over so far is published."""
        self._queue.put_nowait(None)
        await self._runner

    def abandon(self) -> None:
        self._runner.cancel()

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            index, audio = item
            try:
                await self._publish(index, audio)
            except Exception:
                log.warning("task %s: piece %d not published", self._task_id, index, exc_info=True)

    async def _publish(self, index: int, audio: Audio) -> None:
        key = part_key(self._user_id, self._generation_id, index)
        audio = await asyncio.to_thread(at_speed, audio, self._speed)
        wav = await asyncio.to_thread(encode_wav, audio.samples, audio.sample_rate)
        await self._ctx.storage.put("generations", key, wav, "audio/wav", owner=self._user_id)
        async with self._ctx.db.as_service() as conn:
            added = await tasks.append_audio_part(
                conn,
                task_id=self._task_id,
                index=index,
                key=key,
                duration_seconds=round(audio.duration, 3),
            )
        if not added:
            await self._forget_unlisted(index, key)

    async def _forget_unlisted(self, index: int, key: str) -> None:
        """The task ended (cancelled, deleted) while the piece was being stored: delete the
        object unless the task lists it (a racing worker published the same index, at the
        same key), so no piece outlives what deletion and the sweeper know of."""
        async with self._ctx.db.as_service() as conn:
            row = await tasks.get(conn, self._task_id)
        if row is not None and key in tasks.part_keys(row["audio_parts"]):
            return
        log.info("task %s ended before piece %d was published; removing it", self._task_id, index)
        await self._ctx.storage.delete("generations", key)


def at_speed(audio: Audio, speed: float) -> Audio:
    """The audio spoken `speed` times as fast, pitch kept (itself at 1.0). CPU-bound."""
    if speed == 1.0:
        return audio
    return Audio(change_tempo(audio.samples, audio.sample_rate, speed), audio.sample_rate)


async def run_engine(
    ctx: WorkerContext,
    task_id: UUID,
    call: Callable[[JobControl], Audio],
    on_part: Callable[[int, int, Audio], None] | None = None,
) -> Audio:
    """Run `call` on the engine executor until it returns. Meanwhile (also while it waits
    for the engine), every `cancel_poll_seconds` look whether the task is still wanted (a
    cheap read, so a cancel stops the engine before its next chunk), and record liveness
    and progress when progress moves or `heartbeat_seconds` passed. Each finished chunk
    goes to `on_part` (on the engine thread)."""
    stop = threading.Event()
    progress: list[int | None] = [0, None]

    def on_progress(done: int, total: int) -> None:
        progress[0], progress[1] = done, total

    control = JobControl(is_cancelled=stop.is_set, on_progress=on_progress, on_part=on_part)

    def checked_call() -> Audio:
        control.check()  # cancelled while it waited for the engine
        started = time.perf_counter()  # the engine's own time, not its wait for the thread
        audio = call(control)
        observe_engine(
            ctx.engine.capabilities().name, audio.duration, time.perf_counter() - started
        )
        return audio

    loop = asyncio.get_running_loop()
    work = loop.run_in_executor(ctx.engine_executor, checked_call)
    last_beat = loop.time()
    written = list(progress)
    try:
        while True:
            done, _ = await asyncio.wait({work}, timeout=ctx.cancel_poll_seconds)
            # Progress is written as soon as it moves, so the task dock never lags a chunk.
            beat = (
                bool(done)
                or progress != written
                or loop.time() - last_beat >= ctx.heartbeat_seconds
            )
            async with ctx.db.as_service() as conn:
                if beat:
                    written = list(progress)
                    alive = await tasks.heartbeat(conn, task_id, int(written[0] or 0), written[1])
                    last_beat = loop.time()
                else:
                    alive = await tasks.is_processing(conn, task_id)
            if not alive:
                stop.set()
            if done:
                return work.result()
    except asyncio.CancelledError:
        # The worker is shutting down: let the engine stop at its next check.
        stop.set()
        raise


def decode_wav(data: bytes) -> Audio:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate))


async def store_and_finish_generation(
    ctx: WorkerContext, task: dict[str, Any], audio: Audio
) -> bool:
    """Store the audio at the generation's key and complete it, all under the task's row
    lock: a second finisher (a requeued task whose first worker was only slow) waits,
    then finds it completed and leaves the stored audio alone. False when the task was
    no longer processing (finished by another worker, or cancelled)."""
    user_id: UUID = task["user_id"]
    generation_id: UUID = task["generation_id"]
    key = f"{user_id}/{generation_id}.wav"
    async with ctx.db.as_service() as conn:
        locked = await tasks.lock_for_finish(conn, task["id"])
        if locked is None or locked["status"] != "processing":
            return False
        # Encoding and peaks are numpy over the whole clip: off the loop that heartbeats.
        wav = await asyncio.to_thread(encode_wav, audio.samples, audio.sample_rate)
        peaks = await asyncio.to_thread(compute_peaks, audio.samples, STORED_PEAKS)
        await ctx.storage.put("generations", key, wav, "audio/wav", owner=user_id)
        return await tasks.complete_generation(
            conn,
            task_id=task["id"],
            generation_id=generation_id,
            audio_object_key=key,
            duration_seconds=round(audio.duration, 3),
            peaks=peaks,
        )


async def stored_speaker_profile(ctx: WorkerContext, reference: Reference) -> Reference:
    """The reference with a current analysis of its speaker, for engines that keep one.
    A voice saved without one (before profiles were stored, or by an older analysis) is
    analysed here, on the engine's thread, and the result is stored with the voice, so
    this happens once per voice, not once per worker process."""
    engine = ctx.engine
    if not isinstance(engine, AnalysesSpeakers):
        return reference
    # About half a second of CPU: short enough to run without a heartbeat.
    loop = asyncio.get_running_loop()
    record = await loop.run_in_executor(ctx.engine_executor, engine.speaker_record, reference)
    if record is None:
        return reference
    async with ctx.db.as_service() as conn:
        await voices.set_speaker_profile(conn, UUID(reference.voice_id), record)
    return dataclasses.replace(reference, speaker_profile=record)


# A stock voice's analysed reference, per engine process: it has no row to store it in.
_stock_references: dict[str, Reference] = {}


async def stock_voice_reference(ctx: WorkerContext, name: str) -> Reference:
    """The built-in voice `name` as the engine takes it, with the engine's analysis of its
    speaker made once per process (engines that keep one)."""
    cached = _stock_references.get(name)
    if cached is not None:
        return cached
    try:
        reference = await asyncio.to_thread(stock_reference, name)
    except KeyError:
        raise JobFailed(f"Unknown built-in voice {name}.") from None
    engine = ctx.engine
    if isinstance(engine, AnalysesSpeakers):
        loop = asyncio.get_running_loop()
        record = await loop.run_in_executor(ctx.engine_executor, engine.speaker_record, reference)
        if record is not None:
            reference = dataclasses.replace(reference, speaker_profile=record)
    _stock_references[name] = reference
    return reference


async def handle_generate(ctx: WorkerContext, task_id: UUID) -> None:
    async with ctx.db.as_service() as conn:
        task = await tasks.claim(conn, task_id)
        if task is None:
            log.info("task %s is not pending any more; skipping", task_id)
            return
        job = await voices.generation_job(conn, task["generation_id"])
    try:
        if job is None:
            raise JobFailed("The generation was deleted.")
        if job["stock_voice"]:
            reference = await stock_voice_reference(ctx, job["stock_voice"])
        else:
            if job["voice_id"] is None:
                raise JobFailed("The voice for this generation was deleted.")
            if not job["reference_object_key"] or not job["reference_transcript"]:
                raise JobFailed("Voice has no reference audio.")
            reference = Reference(
                voice_id=str(job["voice_id"]),
                audio=await asyncio.to_thread(
                    decode_wav, await ctx.storage.read("references", job["reference_object_key"])
                ),
                transcript=job["reference_transcript"],
                language=job["voice_language"],
                speaker_profile=job["speaker_profile"],
            )
            reference = await stored_speaker_profile(ctx, reference)
        text, language = job["text"], job["language"]
        speed = float(job["speed"] or 1.0)
        publisher = PiecePublisher(ctx, task, speed)
        try:
            audio = await run_engine(
                ctx,
                task_id,
                lambda control: ctx.engine.generate(text, language, reference, control),
                on_part=publisher.on_part,
            )
            # Every piece is in place before the task completes: a stream that sees the
            # task end has already been told of its last piece.
            await publisher.drain()
        finally:
            publisher.abandon()
        # The whole clip at once, not its pieces joined: no seams from separate stretches.
        audio = await asyncio.to_thread(at_speed, audio, speed)
        await store_and_finish_generation(ctx, task, audio)
    except Cancelled:
        log.info("task %s was cancelled; stopped", task_id)
    except (JobFailed, UnsupportedLanguage, EngineError) as exc:
        await _fail(ctx, task_id, exc.message)
    except Exception:
        log.exception("generate task %s failed", task_id)
        await _fail(ctx, task_id, GENERIC_FAILURE)


async def handle_design_preview(ctx: WorkerContext, task_id: UUID) -> None:
    async with ctx.db.as_service() as conn:
        task = await tasks.claim(conn, task_id)
    if task is None:
        return
    meta = task["metadata"] or {}
    text, instruct = str(meta.get("text") or ""), str(meta.get("instruct") or "")
    language = str(meta.get("language") or "English")
    try:
        if not text.strip() or not instruct.strip():
            raise JobFailed("Invalid design preview task metadata.")
        audio = await run_engine(
            ctx, task_id, lambda control: ctx.engine.design(text, language, instruct, control)
        )
        key = f"{task['user_id']}/preview_{task_id}.wav"
        async with ctx.db.as_service() as conn:
            locked = await tasks.lock_for_finish(conn, task_id)
            if locked is not None and locked["status"] == "processing":
                wav = await asyncio.to_thread(encode_wav, audio.samples, audio.sample_rate)
                await ctx.storage.put("references", key, wav, "audio/wav", owner=task["user_id"])
                await tasks.complete_design(conn, task_id=task_id, object_key=key)
    except Cancelled:
        log.info("design task %s was cancelled; stopped", task_id)
    except (JobFailed, UnsupportedLanguage, EngineError) as exc:
        await _fail(ctx, task_id, exc.message)
    except Exception:
        log.exception("design task %s failed", task_id)
        await _fail(ctx, task_id, "Voice design failed. Please try again.")


async def _fail(ctx: WorkerContext, task_id: UUID, message: str) -> None:
    async with ctx.db.as_service() as conn:
        await tasks.fail(conn, task_id, message)
