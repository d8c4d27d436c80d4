"""Generation through the queue with a real worker and the local engine: progress,
audio and its formats, the one-active limit, cancel, delete, and design."""

from __future__ import annotations

import asyncio
import io
import time
import wave

import pytest

from tests.jobs.conftest import CHUNK_CHARS, Studio
from tests.support import audio
from utter.db.queries import tasks as task_q
from utter.engines.text import chunk_text

# Five sentences of about 60 characters: three chunks of at most CHUNK_CHARS.
TEXT = " ".join((*audio.SENTENCES, "Thank you for listening to this short test."))


async def test_a_generation_runs_in_chunks_and_stores_playable_audio(studio: Studio) -> None:
    user, voice = await studio.user_with_voice()
    started = await studio.generate(user, voice, TEXT)
    assert started["status"] == "processing" and started["is_long_running"] is True
    assert started["estimated_duration_minutes"] == max(0.1, round(len(TEXT) / 375, 1))

    task = await studio.wait_for(user, started["task_id"])
    assert task["status"] == "completed", task
    expected_chunks = len(chunk_text(TEXT, CHUNK_CHARS))
    assert expected_chunks >= 3
    assert task["chunks_done"] == task["chunks_total"] == expected_chunks
    assert task["result"] == {"audio_url": f"/api/generations/{started['generation_id']}/audio"}
    assert task["elapsed_seconds"] > 0
    assert task["metadata"]["voice_name"] == "Joe"

    listing = (await studio.client.get("/api/generations", headers=user.headers)).json()
    (item,) = listing["generations"]
    assert item["id"] == started["generation_id"] and item["status"] == "completed"
    assert item["voice_name"] == "Joe"
    # ~14 characters a second of speech, give or take a slow or fast voice.
    assert len(TEXT) / 25 < item["duration_seconds"] < len(TEXT) / 8
    assert 50 <= len(item["peaks"]) <= 400
    assert all(0.0 <= p <= 1.0 for p in item["peaks"]) and max(item["peaks"]) > 0.5
    assert item["generation_time_seconds"] > 0

    redirect = await studio.client.get(item["audio_path"], headers=user.headers)
    assert redirect.status_code == 302
    wav = await studio.client.get(redirect.headers["location"])
    assert wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as reader:
        assert reader.getframerate() == 24000 and reader.getnchannels() == 1
        assert reader.getnframes() / 24000 == pytest.approx(item["duration_seconds"], abs=0.01)

    for fmt, content_type, magic in (
        ("mp3", "audio/mpeg", (b"ID3", b"\xff\xfb")),
        ("opus", "audio/ogg", (b"OggS",)),
    ):
        for _ in range(2):  # the second request uses the cached transcode
            moved = await studio.client.get(
                item["audio_path"], params={"format": fmt, "download": "1"}, headers=user.headers
            )
            assert moved.status_code == 302
            got = await studio.client.get(moved.headers["location"])
            assert got.headers["content-type"] == content_type
            assert got.content.startswith(magic)
            assert f"utter-{item['id']}.{fmt}" in got.headers["content-disposition"]
    async with studio.db.as_service() as conn:
        names = await (
            await conn.execute(
                "select name from storage.objects where bucket_id = 'generations' and name like %s"
                " order by name",
                (f"{user.id}/%",),
            )
        ).fetchall()
    gid = started["generation_id"]
    # The clip, its two transcodes, and the pieces published while it was made.
    assert sorted(r["name"] for r in names) == sorted(
        [
            *(f"{user.id}/{gid}/part-{i:04d}.wav" for i in range(expected_chunks)),
            f"{user.id}/{gid}.mp3",
            f"{user.id}/{gid}.opus",
            f"{user.id}/{gid}.wav",
        ]
    )
    bad = await studio.client.get(
        item["audio_path"], params={"format": "flac"}, headers=user.headers
    )
    assert (bad.status_code, bad.json()) == (400, {"detail": "Format must be wav, mp3 or opus."})

    # Deleting the generation deletes every copy of its audio.
    deleted = await studio.client.delete(f"/api/generations/{gid}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    async with studio.db.as_service() as conn:
        left = await (
            await conn.execute(
                "select count(*) as n from storage.objects where name like %s", (f"%{gid}%",)
            )
        ).fetchone()
    assert left == {"n": 0}


async def test_one_active_generation_per_user_then_free_again(studio: Studio) -> None:
    user, voice = await studio.user_with_voice()
    first = await studio.generate(user, voice, TEXT)
    second = await studio.client.post(
        "/api/generate", json={"voice_id": voice, "text": "Hello."}, headers=user.headers
    )
    assert second.status_code == 409
    assert second.json() == {
        "detail": "A generation is already in progress. Please wait for it to finish before"
        " starting another."
    }
    await studio.wait_for(user, first["task_id"])
    third = await studio.generate(user, voice, "Hello again.")
    assert (await studio.wait_for(user, third["task_id"]))["status"] == "completed"


async def test_cancel_stops_the_worker_within_one_chunk(studio: Studio) -> None:
    user, voice = await studio.user_with_voice()
    long_text = " ".join([TEXT] * 3)
    started = await studio.generate(user, voice, long_text)
    running = await studio.wait_for(user, started["task_id"], until=lambda t: t["chunks_done"] >= 1)
    assert running["status"] == "processing"
    at_cancel = running["chunks_done"]
    cancelled = await studio.client.post(
        f"/api/tasks/{started['task_id']}/cancel", headers=user.headers
    )
    assert cancelled.json() == {"cancelled": True, "task_id": started["task_id"]}
    # Watch the worker: it may finish the chunk in hand, but starts no other. Its queue job
    # ends only once the engine has stopped, so by then no further chunk can be written.
    deadline = time.monotonic() + 180
    while True:
        async with studio.db.as_service() as conn:
            job = await (
                await conn.execute(
                    "select j.status::text as status from procrastinate.procrastinate_jobs j"
                    " join public.tasks t on t.queue_job_id = j.id where t.id = %s",
                    (started["task_id"],),
                )
            ).fetchone()
        if job is not None and job["status"] not in ("todo", "doing"):
            break
        assert time.monotonic() < deadline, f"the worker never let go of the job: {job}"
        await asyncio.sleep(0.1)
    async with studio.db.as_service() as conn:
        row = await task_q.get(conn, started["task_id"])
        gen = await (
            await conn.execute(
                "select status from public.generations where id = %s", (started["generation_id"],)
            )
        ).fetchone()
    assert row is not None and row["status"] == "cancelled"
    assert row["chunks_done"] <= at_cancel + 1 < row["chunks_total"]
    assert gen == {"status": "cancelled"}
    again = await studio.client.post(
        f"/api/tasks/{started['task_id']}/cancel", headers=user.headers
    )
    assert (again.status_code, again.json()) == (
        400,
        {"detail": "Cannot cancel task with status: cancelled"},
    )


async def test_deleting_a_running_task_cancels_its_generation(studio: Studio) -> None:
    user, voice = await studio.user_with_voice()
    started = await studio.generate(user, voice, " ".join([TEXT] * 2))
    await studio.wait_for(user, started["task_id"], until=lambda t: t["status"] == "processing")
    deleted = await studio.client.delete(f"/api/tasks/{started['task_id']}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    listing = (await studio.client.get("/api/generations", headers=user.headers)).json()
    assert listing["generations"][0]["status"] == "cancelled"
    # Nothing blocks the next generation.
    nxt = await studio.generate(user, voice, "Hello.")
    assert (await studio.wait_for(user, nxt["task_id"]))["status"] == "completed"


async def test_task_list_follows_the_user_across_tabs(studio: Studio) -> None:
    user, voice = await studio.user_with_voice()
    other, _ = await studio.user_with_voice()
    started = await studio.generate(user, voice, "Hello there.")
    listed = (await studio.client.get("/api/tasks", headers=user.headers)).json()["tasks"]
    assert [t["id"] for t in listed] == [started["task_id"]]
    assert (await studio.client.get("/api/tasks", headers=other.headers)).json() == {"tasks": []}
    await studio.wait_for(user, started["task_id"])
    finished = (await studio.client.get("/api/tasks", headers=user.headers)).json()["tasks"]
    assert finished[0]["status"] == "completed"


async def test_design_preview_is_saved_as_a_voice_and_speaks(studio: Studio) -> None:
    user, _ = await studio.user_with_voice()
    preview = await studio.client.post(
        "/api/voices/design/preview",
        json={
            "text": "Hello, this is a preview of a newly designed voice for our studio.",
            "language": "English",
            "instruct": "A deep, slow, elderly male voice.",
        },
        headers=user.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["status"] == "pending"
    task = await studio.wait_for(user, preview.json()["task_id"])
    assert task["status"] == "completed", task
    clip = await studio.client.get(task["result"]["audio_url"])
    assert clip.status_code == 200 and clip.content[:4] == b"RIFF"

    saved = await studio.client.post(
        "/api/voices/design",
        json={"task_id": task["id"], "name": "Grandpa"},
        headers=user.headers,
    )
    assert saved.status_code == 200, saved.text
    voice = saved.json()
    assert (voice["name"], voice["source"], voice["description"]) == (
        "Grandpa",
        "designed",
        "A deep, slow, elderly male voice.",
    )
    assert (await studio.client.get(voice["preview_url"])).status_code == 200
    twice = await studio.client.post(
        "/api/voices/design", json={"task_id": task["id"], "name": "Again"}, headers=user.headers
    )
    assert twice.status_code == 409
    async with studio.db.as_service() as conn:
        previews = await (
            await conn.execute(
                "select count(*) as n from storage.objects where name like %s",
                (f"{user.id}/preview_%",),
            )
        ).fetchone()
    assert previews == {"n": 0}  # the preview became the voice's reference

    generated = await studio.generate(user, voice["id"], "The designed voice speaks.")
    assert (await studio.wait_for(user, generated["task_id"]))["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "Please select a voice"),
        ({"voice_id": "nope", "text": "x"}, "Invalid voice_id"),
        ({"voice_id": "7d8c3a1e-1111-4111-8111-111111111111"}, "Please enter text to speak"),
        (
            {"voice_id": "7d8c3a1e-1111-4111-8111-111111111111", "text": "x" * 10001},
            "Text cannot exceed 10000 characters",
        ),
        (
            {"voice_id": "7d8c3a1e-1111-4111-8111-111111111111", "text": "x", "language": "Elvish"},
            "Language Elvish is not supported by this server.",
        ),
    ],
)
async def test_generate_validation(studio: Studio, body: dict[str, str], detail: str) -> None:
    user, _ = await studio.user_with_voice()
    response = await studio.client.post("/api/generate", json=body, headers=user.headers)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


async def test_generate_for_an_unknown_voice_is_404_and_bad_json_400(studio: Studio) -> None:
    user, _ = await studio.user_with_voice()
    missing = await studio.client.post(
        "/api/generate",
        json={"voice_id": "7d8c3a1e-1111-4111-8111-111111111111", "text": "Hi."},
        headers=user.headers,
    )
    assert (missing.status_code, missing.json()) == (404, {"detail": "Voice not found"})
    broken = await studio.client.post(
        "/api/generate",
        content=b"{not json",
        headers={**user.headers, "content-type": "application/json"},
    )
    assert (broken.status_code, broken.json()) == (400, {"detail": "Invalid JSON body"})
