"""A generation's audio as one stream while it is being made (GET /api/tasks/{id}/stream,
and the OpenAI-style speech route).

The entry point, for any router:

    async def open_task_stream(
        db: Database,
        storage: Storage,
        *,
        user_id: UUID,
        task_id: UUID,
        audio_format: str,
        listener: PartsListener | None = None,
    ) -> TaskStream

    stream = await open_task_stream(
        db, studio.storage, user_id=user.id, task_id=task_id, audio_format="mp3",
        listener=parts_listener(request.app.state),
    )
    return StreamingResponse(stream.chunks(), media_type=stream.media_type)

It raises NotFound ("Task not found.") before any byte when the task is missing or not
the caller's (read under the caller's RLS), and Invalid for a format that is not one of
`STREAM_FORMATS` or a task that is not a generation. `chunks()` then yields the encoded
audio of the pieces published so far, and of each new one as the worker publishes it,
with the short pause the finished clip has between them, and ends once the task is no
longer pending or processing. A task that completed with no pieces to send (they were
swept an hour after it ended, or never published) streams its finished clip instead.
After `chunks()` ends, `status` and `error` hold how the task ended.

What wakes a waiting stream is the worker's `pg_notify('utter_audio_parts', task id)`,
received by the process's one `PartsListener` (a LISTEN connection made on first use,
remade after a loss); without one, or between notifications, the stream also looks every
`POLL_SECONDS`. Encoding runs in an ffmpeg subprocess (`utter.audio.stream_encode`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import psycopg

from utter.audio.stream_encode import (
    STREAM_FORMATS,
    StreamEncoder,
    StreamFormat,
    stream_format,
    wav_stream_header,
)
from utter.db import Database
from utter.db.queries import generations as generation_q
from utter.db.queries import tasks as task_q
from utter.engines.join import PAUSE_SECONDS
from utter.errors import Invalid, NotFound
from utter.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)

NOT_FOUND = "Task not found."
# A fallback: a notification normally wakes the stream at once.
POLL_SECONDS = 0.5
BUCKET = "generations"


def bad_format_message() -> str:
    return f"Format must be one of: {', '.join(STREAM_FORMATS)}."


class PartsListener:
    """One LISTEN connection per process for `utter_audio_parts`, waking the streams that
    wait on a task. Started on first use in the running loop; `close` at shutdown."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._runner: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, task_id: UUID) -> Iterator[asyncio.Event]:
        """An event set whenever the task is announced, for the block's duration."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())
        event = asyncio.Event()
        key = str(task_id)
        self._waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[key]

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"listen {task_q.AUDIO_PARTS_CHANNEL}")
                    # Anything published while no connection listened is found by the
                    # streams' own next look; wake them now rather than at their poll.
                    self._wake_all()
                    async for notice in conn.notifies():
                        for event in self._waiters.get(notice.payload, ()):
                            event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("audio parts listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None


def parts_listener(state: Any) -> PartsListener | None:
    """The app's listener (`app.state.audio_parts`), if it has one."""
    listener = getattr(state, "audio_parts", None)
    return listener if isinstance(listener, PartsListener) else None


def _pcm_of(wav_bytes: bytes) -> tuple[bytes, int]:
    """The PCM16 mono frames of a piece the worker stored, and its rate."""
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        if reader.getsampwidth() != 2 or reader.getnchannels() != 1:
            raise ValueError("a piece is not PCM16 mono")
        return reader.readframes(reader.getnframes()), reader.getframerate()


class TaskStream:
    """The audio of one generation, as it is made. `chunks()` may be iterated once."""

    def __init__(
        self,
        db: Database,
        storage: Storage,
        fmt: StreamFormat,
        *,
        user_id: UUID,
        task_id: UUID,
        listener: PartsListener | None,
        pause_seconds: float = PAUSE_SECONDS,
    ) -> None:
        self._db = db
        self._storage = storage
        self._format = fmt
        self._user_id = user_id
        self._task_id = task_id
        self._listener = listener
        self._pause_seconds = pause_seconds
        self.media_type = fmt.media_type
        # How the task ended, once chunks() has ended.
        self.status: str | None = None
        self.error: str | None = None
        self._encoder: asyncio.Future[StreamEncoder | None] | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._format.name == "wav":
            yield wav_stream_header()
        self._encoder = asyncio.get_running_loop().create_future()
        feeding = asyncio.create_task(self._feed())
        encoder: StreamEncoder | None = None
        try:
            encoder = await self._encoder
            if encoder is not None:
                while data := await encoder.read():
                    yield data
            await feeding
        finally:
            feeding.cancel()
            with contextlib.suppress(BaseException):
                await feeding
            if encoder is not None:
                await encoder.close()

    async def _feed(self) -> None:
        """Send each piece to the encoder as it is published; end its input when the
        task has ended and every piece it has is sent."""
        assert self._encoder is not None
        encoder: StreamEncoder | None = None
        rate = 0
        following = 0  # the next piece's index
        watching = (
            self._listener.watch(self._task_id)
            if self._listener is not None
            else contextlib.nullcontext(None)
        )
        try:
            with watching as woken:
                while True:
                    if woken is not None:
                        woken.clear()
                    state = await self._read()
                    if state is None:  # deleted meanwhile
                        break
                    status, parts = state
                    for part in sorted(parts, key=lambda p: int(p["index"])):
                        index = int(part["index"])
                        if index < following:
                            continue
                        try:
                            stored = await self._storage.read(BUCKET, part["key"])
                        except ObjectNotFound:
                            # Deleted meanwhile (its generation went): nothing more to send.
                            continue
                        pcm, piece_rate = _pcm_of(stored)
                        if encoder is None:
                            rate = piece_rate
                            encoder = await StreamEncoder.start(self._format, rate)
                            self._encoder.set_result(encoder)
                        elif following > 0:
                            await encoder.write(bytes(2 * round(self._pause_seconds * rate)))
                        await encoder.write(pcm)
                        following = index + 1
                    if status not in task_q.ACTIVE:
                        self.status = status
                        if encoder is None and status == "completed":
                            encoder = await self._send_finished_clip()
                        break
                    if woken is None:
                        await asyncio.sleep(POLL_SECONDS)
                    else:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(woken.wait(), POLL_SECONDS)
        finally:
            if not self._encoder.done():
                self._encoder.set_result(encoder)
            if encoder is not None:
                await encoder.finish()

    async def _read(self) -> tuple[str, list[dict[str, Any]]] | None:
        async with self._db.as_user(self._user_id) as conn:
            row = await task_q.get(conn, self._task_id)
        if row is None:
            return None
        self.error = row["error"]
        parts = row["audio_parts"] if isinstance(row["audio_parts"], list) else []
        return row["status"], parts

    async def _send_finished_clip(self) -> StreamEncoder | None:
        """A completed task without pieces to send: its generation's clip, whole."""
        assert self._encoder is not None
        async with self._db.as_user(self._user_id) as conn:
            task = await task_q.get(conn, self._task_id)
            generation_id = task["generation_id"] if task else None
            generation = (
                await generation_q.get(conn, generation_id) if generation_id is not None else None
            )
        key = generation["audio_object_key"] if generation else None
        if not key:
            return None
        try:
            pcm, rate = _pcm_of(await self._storage.read(BUCKET, key))
        except ObjectNotFound:
            return None
        encoder = await StreamEncoder.start(self._format, rate)
        self._encoder.set_result(encoder)
        await encoder.write(pcm)
        return encoder


async def open_task_stream(
    db: Database,
    storage: Storage,
    *,
    user_id: UUID,
    task_id: UUID,
    audio_format: str,
    listener: PartsListener | None = None,
) -> TaskStream:
    """The caller's generate task as a stream of `audio_format` audio (see the module's
    docstring). NotFound / Invalid are raised here, before any byte."""
    fmt = stream_format(audio_format)
    if fmt is None:
        raise Invalid(bad_format_message())
    async with db.as_user(user_id) as conn:
        row = await task_q.get(conn, task_id)
        generation = (
            await generation_q.get(conn, row["generation_id"])
            if row is not None and row["generation_id"] is not None
            else None
        )
    if row is None:
        raise NotFound(NOT_FOUND)
    if row["type"] != "generate":
        raise Invalid("Only a generation has an audio stream.")
    # The finished clip is sped up whole, its pauses too: the stream's pauses match them.
    speed = float(generation["speed"]) if generation is not None else 1.0
    return TaskStream(
        db,
        storage,
        fmt,
        user_id=user_id,
        task_id=task_id,
        listener=listener,
        pause_seconds=PAUSE_SECONDS / speed,
    )
