"""Generations and their tasks over HTTP without a worker: the JSON of the history, of one
task and of the task dock; audio links, regenerate, cancel and delete."""

from __future__ import annotations

import uuid

import httpx

from tests.support.api import sign_up
from tests.support.objects import make_generation, make_task, make_voice
from utter.db import Database
from utter.db.queries import tasks as task_q

GENERATION_KEYS = {
    "id",
    "voice_id",
    "voice_name",
    "text",
    "audio_path",
    "duration_seconds",
    "language",
    "status",
    "generation_time_seconds",
    "error_message",
    "created_at",
    "completed_at",
    "peaks",
}

TASK_KEYS = {
    "id",
    "type",
    "status",
    "error",
    "modal_status",
    "modal_elapsed_seconds",
    "modal_poll_count",
    "chunks_done",
    "chunks_total",
    "elapsed_seconds",
    "created_at",
    "completed_at",
    "generation_id",
    "voice_id",
    "metadata",
    "audio_parts",
    "stream_url",
}


async def test_history_audio_regenerate_and_delete_answer_as_before(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    voice = await make_voice(db, user.id, name="Joe")
    gid = await make_generation(db, user.id, voice, text="Hello & goodbye.")

    listing = (await client.get("/api/generations", headers=user.headers)).json()
    assert listing["pagination"] == {"page": 1, "per_page": 20, "total": 1, "pages": 1}
    (item,) = listing["generations"]
    assert set(item) == GENERATION_KEYS
    assert (item["id"], item["voice_name"], item["audio_path"]) == (
        str(gid),
        "Joe",
        f"/api/generations/{gid}/audio",
    )

    audio = await client.get(item["audio_path"], headers=user.headers)
    assert audio.status_code == 302
    assert audio.headers["location"].startswith(
        f"http://testserver/storage/v1/object/sign/generations/{user.id}/{gid}.wav?token="
    )
    flac = await client.get(item["audio_path"], params={"format": "flac"}, headers=user.headers)
    assert (flac.status_code, flac.json()) == (400, {"detail": "Format must be wav, mp3 or opus."})

    again = await client.post(f"/api/generations/{gid}/regenerate", headers=user.headers)
    assert again.json() == {
        "voice_id": str(voice),
        "text": "Hello & goodbye.",
        "language": "Auto",
        "redirect_url": f"/generate?voice={voice}&text=Hello%20%26%20goodbye.&language=Auto",
    }

    deleted = await client.delete(f"/api/generations/{gid}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    for method, path, detail in (
        ("DELETE", f"/api/generations/{gid}", "Generation not found."),
        ("GET", f"/api/generations/{gid}/audio", "Generation not found."),
        ("POST", f"/api/generations/{gid}/regenerate", "Generation not found"),
    ):
        gone = await client.request(method, path, headers=user.headers)
        assert (gone.status_code, gone.json()) == (404, {"detail": detail}), path


async def test_a_failed_generation_without_a_voice_says_so(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    gid = await make_generation(db, user.id, None)
    async with db.as_service() as conn:
        await conn.execute(
            "update public.generations set status = 'failed', audio_object_key = null,"
            " completed_at = null where id = %s",
            (gid,),
        )
    audio = await client.get(f"/api/generations/{gid}/audio", headers=user.headers)
    assert (audio.status_code, audio.json()) == (
        404,
        {"detail": "Generation audio not available."},
    )
    again = await client.post(f"/api/generations/{gid}/regenerate", headers=user.headers)
    assert (again.status_code, again.json()) == (400, {"detail": "Generation has no voice_id."})


async def test_a_wrong_generation_id_is_the_same_404_whatever_else_the_request_says(
    client: httpx.AsyncClient, db: Database
) -> None:
    owner = await sign_up(client)
    gid = await make_generation(db, owner.id)
    other = await sign_up(client)
    for query in ({"format": "flac"}, {"download": "maybe"}):
        for path in (f"/api/generations/{gid}/audio", "/api/generations/not-a-uuid/audio"):
            response = await client.get(path, params=query, headers=other.headers)
            assert (response.status_code, response.json()) == (
                404,
                {"detail": "Generation not found."},
            ), (path, query)
    mine = await client.get(
        f"/api/generations/{gid}/audio", params={"download": "maybe"}, headers=owner.headers
    )
    assert mine.status_code == 400  # the owner is told what is wrong with the request


async def test_one_task_leaves_result_out_until_it_has_one_and_the_dock_shows_null(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id)

    one = (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).json()
    assert set(one) == TASK_KEYS  # no "result" key at all, not a null
    assert (one["status"], one["modal_status"], one["modal_elapsed_seconds"]) == (
        "processing",
        None,
        None,
    )
    assert one["modal_poll_count"] == 0  # a poll writes nothing
    (listed,) = (await client.get("/api/tasks", headers=user.headers)).json()["tasks"]
    assert set(listed) == TASK_KEYS | {"result"} and listed["result"] is None

    key = f"{user.id}/preview_{task_id}.wav"
    async with db.as_service() as conn:
        assert await task_q.complete_design(conn, task_id=task_id, object_key=key)
    done = (await client.get(f"/api/tasks/{task_id}", headers=user.headers)).json()
    assert set(done) == TASK_KEYS | {"result"}
    assert done["result"]["object_key"] == key
    assert done["result"]["audio_url"].startswith(
        f"http://testserver/storage/v1/object/sign/references/{key}?token="
    )
    assert done["modal_poll_count"] == 0


async def test_a_preview_storage_will_not_sign_is_shown_without_its_link(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id)
    foreign = f"{uuid.uuid4()}/preview_{task_id}.wav"  # outside the owner's folder
    async with db.as_service() as conn:
        assert await task_q.complete_design(conn, task_id=task_id, object_key=foreign)
    for path in (f"/api/tasks/{task_id}", "/api/tasks"):
        response = await client.get(path, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        task = body["tasks"][0] if "tasks" in body else body
        assert task["result"] == {"object_key": foreign}


async def test_cancel_answers_cancel_out_and_refuses_a_finished_task(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    task_id = await make_task(db, user.id, status="pending")
    cancelled = await client.post(f"/api/tasks/{task_id}/cancel", headers=user.headers)
    assert cancelled.json() == {"cancelled": True, "task_id": str(task_id)}
    again = await client.post(f"/api/tasks/{task_id}/cancel", headers=user.headers)
    assert (again.status_code, again.json()) == (
        400,
        {"detail": "Cannot cancel task with status: cancelled"},
    )
    deleted = await client.delete(f"/api/tasks/{task_id}", headers=user.headers)
    assert deleted.json() == {"ok": True}
    gone = await client.get(f"/api/tasks/{task_id}", headers=user.headers)
    assert (gone.status_code, gone.json()) == (404, {"detail": "Task not found."})
