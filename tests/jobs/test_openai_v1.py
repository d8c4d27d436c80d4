"""The OpenAI dialect at /v1, driven by the official `openai` package against a real server
(uvicorn on a free port) whose worker runs the `local` engine, with a personal API key made
through POST /api/keys."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from openai import AsyncOpenAI

from tests.jobs.conftest import Studio
from tests.support import audio
from tests.support.api import ApiUser, sign_up
from tests.support.local_engine import praat_median_f0
from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve
from tests.support.wer import words
from utter.audio import ffmpeg
from utter.engines import stock
from utter.engines.base import JobControl
from utter.engines.local import LocalEngine
from utter.jobs.worker import run_worker
from utter.services.generate import submit_generation

pytestmark = pytest.mark.slow

SHORT = "Hello from Utter. This is a short test of the speech endpoint."
# Many chunks of at most CHUNK_CHARS (tests/jobs/conftest.py), so the job takes a while
# after its first piece exists.
LONG = " ".join(
    [
        "The first sentence is short.",
        "The morning train left the station a few minutes late, carrying a crowd of sleepy "
        "travellers towards the city.",
        "Outside the windows, fields of wheat rolled past under a pale and quiet sky.",
        "A child near the door counted the cows aloud, and nobody had the heart to stop her.",
        "By the time the train reached the river, the sun had burned away the last of the mist.",
        "The conductor walked the length of the carriage, checking tickets and wishing everyone "
        "a pleasant journey.",
        "At last the city appeared on the horizon, its towers shining in the light.",
    ]
)


@dataclass
class V1:
    url: str
    http: httpx.AsyncClient

    async def user_with_key(self) -> tuple[ApiUser, str, str]:
        """A new user, and a key of theirs (its secret and id) made by POST /api/keys."""
        user = await sign_up(self.http)
        response = await self.http.post(
            "/api/keys", json={"name": "openai tests"}, headers=user.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return user, str(body["key"]), str(body["id"])

    async def clone(self, user: ApiUser, name: str) -> str:
        response = await self.http.post(
            "/api/clone",
            data={"name": name, "language": "English", "transcript": audio.TEXT},
            files={"audio": ("joe.wav", audio.encode(audio.speech(), "wav"))},
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def client(self, key: str) -> AsyncOpenAI:
        # No retries: a refusal is what the test is looking at.
        return AsyncOpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=300)


@dataclass(frozen=True)
class Served:
    url: str
    database_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def served(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server on a database of its own (its worker would take other tests' jobs)."""
    database_url = migrated_database(pg_server_url)
    data_dir = tmp_path_factory.mktemp("openai-v1") / "data"
    with serve(
        lambda url: app_settings(data_dir, database_url=database_url, public_url=url, cpu_workers=1)
    ) as url:
        yield Served(url, database_url, data_dir)


@pytest.fixture(scope="module")
async def v1(served: Served, local_engine: LocalEngine) -> AsyncIterator[V1]:
    """The server, and a worker with the run's engine sharing its database and data dir."""
    settings = app_settings(
        served.data_dir, database_url=served.database_url, worker_heartbeat_seconds=0.5
    )
    worker = asyncio.create_task(run_worker(settings, served.database_url, engine=local_engine))
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
            yield V1(served.url, http)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


TO_PCM = ("-hide_banner", "-nostdin", "-loglevel", "error", "-i", "pipe:0")
TO_PCM += ("-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1")


def decoded_seconds(data: bytes, fmt: str) -> float:
    """Seconds of audio in `data`, decoded by ffmpeg (pcm: s16le at 24 kHz, read directly)."""
    if fmt == "pcm":
        return len(np.frombuffer(data, dtype="<i2")) / 24_000
    done = subprocess.run(
        [ffmpeg.executable(), *TO_PCM],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-400:]
    samples = np.frombuffer(done.stdout, dtype="<i2")
    assert np.abs(samples).max() > 1000, "silence"
    return len(samples) / 24_000


async def test_models_list_has_the_engine_and_openais_names(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    models = [model async for model in v1.client(key).models.list()]
    ids = {model.id for model in models}
    assert {"utter-local", "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1"} <= ids
    assert all(model.object == "model" and model.owned_by == "utter" for model in models)
    assert (await v1.client(key).models.retrieve("tts-1")).id == "tts-1"
    with pytest.raises(openai.NotFoundError):
        await v1.client(key).models.retrieve("gpt-5")


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "wav", "pcm", "aac"])
async def test_speech_in_every_format_is_decodable_and_of_plausible_length(
    v1: V1, fmt: str
) -> None:
    _, key, _ = await v1.user_with_key()
    response = await v1.client(key).audio.speech.create(
        model="tts-1", voice="alloy", input=SHORT, response_format=fmt
    )
    seconds = decoded_seconds(response.content, fmt)
    # About 11 words: 2 to 8 seconds of speech at any sane pace.
    assert 2.0 < seconds < 8.0, seconds


async def test_speed_changes_the_length(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    client = v1.client(key)
    plain = await client.audio.speech.create(
        model="tts-1", voice="onyx", input=SHORT, response_format="wav"
    )
    fast = await client.audio.speech.create(
        model="tts-1", voice="onyx", input=SHORT, response_format="wav", speed=2.0
    )
    ratio = decoded_seconds(fast.content, "wav") / decoded_seconds(plain.content, "wav")
    assert 0.4 < ratio < 0.65, ratio


async def test_streaming_speech_starts_before_the_job_is_done(v1: V1) -> None:
    user, key, _ = await v1.user_with_key()
    started = time.monotonic()
    first_byte: float | None = None
    received = bytearray()
    status_at_first_byte = None
    async with v1.client(key).audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=LONG, response_format="mp3"
    ) as response:
        task_id = response.headers["x-utter-task-id"]
        async for chunk in response.iter_bytes():
            if first_byte is None and chunk:
                first_byte = time.monotonic() - started
                task = await v1.http.get(f"/api/tasks/{task_id}", headers=user.headers)
                status_at_first_byte = task.json()
            received.extend(chunk)
    total = time.monotonic() - started
    assert first_byte is not None
    print(
        f"\n/v1/audio/speech {len(LONG)} chars: first byte {first_byte:.2f} s, total {total:.2f} s"
    )
    assert status_at_first_byte is not None
    assert status_at_first_byte["status"] == "processing", status_at_first_byte
    assert first_byte < total * 0.6, (first_byte, total)
    assert decoded_seconds(bytes(received), "mp3") > 15.0
    # Saved in History like any generation.
    history = await v1.http.get("/api/generations", headers=user.headers)
    (generation,) = history.json()["generations"]
    assert generation["status"] == "completed"
    assert generation["voice_name"] == "nova"
    assert generation["text"] == LONG


async def test_the_active_generation_limit_is_429_while_a_speech_runs(v1: V1) -> None:
    """The same per-user limit as /api (one active generation): a second speech while the
    first is still being made is refused with OpenAI's rate-limit error."""
    _, key, _ = await v1.user_with_key()
    client = v1.client(key)
    async with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input=LONG, response_format="pcm"
    ) as running:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.audio.speech.create(model="tts-1", voice="echo", input=SHORT)
        assert isinstance(caught.value.body, dict)
        assert caught.value.body["code"] == "rate_limit_exceeded"
        assert caught.value.body["type"] == "rate_limit_error"
        assert decoded_seconds(await running.read(), "pcm") > 15.0


async def test_sse_form_carries_the_same_audio_as_events(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    async with v1.client(key).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="coral",
        input=SHORT,
        response_format="wav",
        extra_body={"stream_format": "sse"},
        instructions="Speak cheerfully.",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = (await response.read()).decode()
    events = [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ")
    ]
    assert events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events[:-1] if e["type"] == "speech.audio.delta"]
    assert len(deltas) == len(events) - 1 >= 1
    wav = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert 2.0 < decoded_seconds(wav, "wav") < 8.0


async def test_own_voice_by_id_and_by_exact_name(v1: V1) -> None:
    user, key, _ = await v1.user_with_key()
    voice_id = await v1.clone(user, "Narrator Joe")
    client = v1.client(key)
    for voice in (voice_id, "Narrator Joe"):
        response = await client.audio.speech.create(
            model="utter-local", voice=voice, input=SHORT, response_format="flac"
        )
        assert 2.0 < decoded_seconds(response.content, "flac") < 8.0
    history = await v1.http.get("/api/generations", headers=user.headers)
    assert {g["voice_id"] for g in history.json()["generations"]} == {voice_id}


async def test_another_users_voice_id_or_name_is_not_found(v1: V1) -> None:
    owner, _, _ = await v1.user_with_key()
    voice_id = await v1.clone(owner, "Owner Only Voice")
    _, key, _ = await v1.user_with_key()
    for voice in (voice_id, "Owner Only Voice"):
        with pytest.raises(openai.NotFoundError) as caught:
            await v1.client(key).audio.speech.create(model="tts-1", voice=voice, input=SHORT)
        error = caught.value.body
        assert isinstance(error, dict)
        assert error["param"] == "voice"
        assert error["code"] == "voice_not_found"
        assert error["type"] == "invalid_request_error"


async def test_a_revoked_key_is_refused_at_once(v1: V1) -> None:
    user, key, key_id = await v1.user_with_key()
    client = v1.client(key)
    assert [m async for m in client.models.list()]
    revoked = await v1.http.delete(f"/api/keys/{key_id}", headers=user.headers)
    assert revoked.status_code == 200
    with pytest.raises(openai.AuthenticationError) as caught:
        await client.audio.speech.create(model="tts-1", voice="alloy", input=SHORT)
    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        await v1.client("sk-utter-not-a-key").models.list()


async def test_a_bad_body_is_400_in_openais_shape(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    client = v1.client(key)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.speech.create(model="tts-1", voice="alloy", input=SHORT, speed=9)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "speed"
    response = await v1.http.post(
        "/v1/audio/speech",
        content=b"{not json",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    # /api keeps its own shape.
    response = await v1.http.post(
        "/api/generate", json={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}


async def test_an_unknown_v1_path_is_a_404_in_openais_shape_not_the_web_app(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    response = await v1.http.get("/v1/nope", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_transcription_returns_the_text(v1: V1) -> None:
    _, key, _ = await v1.user_with_key()
    wav = audio.encode(audio.speech(), "wav")
    client = v1.client(key)
    result = await client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav, "audio/wav"), language="en"
    )
    heard, expected = set(words(result.text)), set(words(audio.TEXT))
    assert len(heard & expected) >= len(expected) // 2, result.text
    text = await client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav, "audio/wav"), response_format="text"
    )
    assert isinstance(text, str)
    assert text.strip()


def test_the_stock_voices_are_short_transcribed_and_small() -> None:
    folder = Path(stock.__file__).parent / "stock_voices"
    assert sum(p.stat().st_size for p in folder.glob("*.flac")) < 1_500_000
    for name in stock.STOCK_VOICES:
        reference = stock.stock_reference(name)
        assert reference.audio.sample_rate == 24_000
        assert 5.0 < reference.audio.duration < 10.5, name
        assert len(reference.transcript.split()) > 10


def test_the_stock_voices_are_different_speakers_to_the_engine(
    local_engine: LocalEngine,
) -> None:
    """The deepest and the highest built-in voice, cloned: their speech stays far apart in
    pitch (the references are about 96 and 275 Hz)."""
    pitches = {
        name: praat_median_f0(
            local_engine.generate(SHORT, "English", stock.stock_reference(name), JobControl())
        )
        for name in ("onyx", "coral")
    }
    assert pitches["coral"] > 1.6 * pitches["onyx"], pitches


async def test_a_stock_voice_generation_is_spoken_by_the_worker(studio: Studio) -> None:
    """submit_generation with a stock voice: no voice row, the worker loads the built-in
    reference, and History names the voice."""
    user, _ = await studio.user_with_voice()
    app_studio = studio.app.state.studio
    started = await submit_generation(
        studio.db,
        app_studio.queue,
        user_id=user.id,
        voice_id_raw=None,
        text=SHORT,
        language="English",
        rules=app_studio.generation_rules,
        stock_voice="Sage",
        instructions="Slowly.",
    )
    task = await studio.wait_for(user, str(started.task_id))
    assert task["status"] == "completed", task
    history = await studio.client.get("/api/generations", headers=user.headers)
    (generation,) = history.json()["generations"]
    assert (generation["voice_id"], generation["voice_name"]) == (None, "sage")
    assert generation["duration_seconds"] > 2.0
    async with studio.db.as_service() as conn:
        cur = await conn.execute(
            "select stock_voice, instructions from public.generations where id = %s",
            (started.generation_id,),
        )
        assert await cur.fetchone() == {"stock_voice": "sage", "instructions": "Slowly."}
