"""Task state transitions in SQL: each happens once, whoever races for it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support.users import DbUser, make_user
from utter.audio.peaks import LEVELS, unpack
from utter.db import Database
from utter.db.queries import tasks
from utter.jobs.queue import create_queue, defer


async def _voice(db: Database, user: DbUser) -> uuid.UUID:
    async with db.as_service() as c:
        row = await (
            await c.execute(
                "insert into voices (user_id, name, source, reference_transcript)"
                " values (%s, 'v', 'uploaded', 'hello') returning id",
                (user.id,),
            )
        ).fetchone()
    assert row is not None
    voice_id: uuid.UUID = row["id"]
    return voice_id


async def _new_task(db: Database, user: DbUser | None = None) -> dict[str, Any]:
    user = user or await make_user(db)
    voice = await _voice(db, user)
    async with db.as_service() as c:
        ids = await tasks.create_generation_task(
            c, user_id=user.id, voice_id=voice, text="Hello.", language="English", metadata={}
        )
    return {"user": user, **ids}


async def _status(db: Database, task_id: uuid.UUID) -> tuple[str, str]:
    async with db.as_service() as c:
        row = await (
            await c.execute(
                "select t.status, g.status as g from tasks t"
                " left join generations g on g.id = t.generation_id where t.id = %s",
                (task_id,),
            )
        ).fetchone()
    assert row is not None
    return row["status"], row["g"]


async def test_a_pending_task_is_claimed_by_exactly_one_of_many_workers(db: Database) -> None:
    t = await _new_task(db)

    async def try_claim() -> bool:
        async with db.as_service() as c:
            return await tasks.claim(c, t["task_id"]) is not None

    wins = await asyncio.gather(*(try_claim() for _ in range(8)))
    assert sum(wins) == 1
    async with db.as_service() as c:
        row = await tasks.get(c, t["task_id"])
    assert row is not None and row["attempts"] == 1 and row["started_at"] is not None


async def test_finalising_happens_once_however_many_finishers_race(db: Database) -> None:
    t = await _new_task(db)
    async with db.as_service() as c:
        await tasks.claim(c, t["task_id"])

    async def finish() -> bool:
        async with db.as_service() as c:
            await tasks.lock_for_finish(c, t["task_id"])
            return await tasks.complete_generation(
                c,
                task_id=t["task_id"],
                generation_id=t["generation_id"],
                audio_object_key=f"{t['user'].id}/{t['generation_id']}.wav",
                duration_seconds=1.25,
                peaks=[0.1, 0.5, 1.0],
            )

    results = await asyncio.gather(*(finish() for _ in range(6)))
    assert sum(results) == 1
    assert await _status(db, t["task_id"]) == ("completed", "completed")
    async with db.as_service() as c:
        gen = await (
            await c.execute("select * from generations where id = %s", (t["generation_id"],))
        ).fetchone()
        task = await tasks.get(c, t["task_id"])
    assert gen is not None and task is not None
    assert gen["duration_seconds"] == 1.25
    assert unpack(gen["peaks"]) == pytest.approx([0.1, 0.5, 1.0], abs=0.5 / LEVELS + 0.0005)
    assert gen["generation_time_seconds"] is not None and gen["completed_at"] is not None
    assert task["result"] == {"audio_url": f"/api/generations/{t['generation_id']}/audio"}


async def test_a_cancelled_task_cannot_be_completed_and_its_heartbeat_says_stop(
    db: Database,
) -> None:
    t = await _new_task(db)
    async with db.as_service() as c:
        await tasks.claim(c, t["task_id"])
        assert await tasks.heartbeat(c, t["task_id"], 1, 4)
    async with db.as_service() as c:
        assert await tasks.cancel(c, t["task_id"], t["user"].id) is not None
    async with db.as_service() as c:
        assert not await tasks.heartbeat(c, t["task_id"], 2, 4)
        await tasks.lock_for_finish(c, t["task_id"])
        assert not await tasks.complete_generation(
            c,
            task_id=t["task_id"],
            generation_id=t["generation_id"],
            audio_object_key="k.wav",
            duration_seconds=1.0,
            peaks=[],
        )
    assert await _status(db, t["task_id"]) == ("cancelled", "cancelled")


async def test_cancel_only_touches_active_tasks_of_their_owner(db: Database) -> None:
    t = await _new_task(db)
    stranger = await make_user(db)
    async with db.as_service() as c:
        assert await tasks.cancel(c, t["task_id"], stranger.id) is None
        assert await tasks.fail(c, t["task_id"], "Engine exploded.")
        assert await tasks.cancel(c, t["task_id"], t["user"].id) is None
    assert await _status(db, t["task_id"]) == ("failed", "failed")


async def test_progress_never_goes_backwards_or_past_the_total(db: Database) -> None:
    t = await _new_task(db)
    async with db.as_service() as c:
        await tasks.claim(c, t["task_id"])
        await tasks.heartbeat(c, t["task_id"], 3, 5)
        await tasks.heartbeat(c, t["task_id"], 2, None)
        row = await tasks.get(c, t["task_id"])
    assert row is not None and (row["chunks_done"], row["chunks_total"]) == (3, 5)


async def test_a_stale_task_is_requeued_once_then_failed(db: Database) -> None:
    t = await _new_task(db)
    stale = "update tasks set heartbeat_at = now() - interval '10 minutes' where id = %s"
    async with db.as_service() as c:
        await tasks.claim(c, t["task_id"])
        await c.execute(stale, (t["task_id"],))
    async with db.as_service() as c:
        requeued = await tasks.requeue_stale(c, stale_after_seconds=30, max_attempts=2)
    assert t["task_id"] in [r["id"] for r in requeued]
    assert await _status(db, t["task_id"]) == ("pending", "processing")
    # Second attempt dies too: no attempts left, so it fails and frees the guard.
    async with db.as_service() as c:
        await tasks.claim(c, t["task_id"])
        await c.execute(stale, (t["task_id"],))
    async with db.as_service() as c:
        assert t["task_id"] not in [
            r["id"] for r in await tasks.requeue_stale(c, stale_after_seconds=30, max_attempts=2)
        ]
        assert t["task_id"] in await tasks.fail_stale(
            c, stale_after_seconds=30, pending_timeout_seconds=3600
        )
    assert await _status(db, t["task_id"]) == ("failed", "failed")
    await _new_task(db, t["user"])  # the user may generate again


async def test_deferring_is_part_of_the_callers_transaction(
    db: Database, database_url: str
) -> None:
    queue = create_queue(database_url)
    user = await make_user(db)
    voice = await _voice(db, user)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.as_service() as c:
            ids = await tasks.create_generation_task(
                c, user_id=user.id, voice_id=voice, text="x", language="English", metadata={}
            )
            await defer(queue, c, "generate", ids["task_id"])
            raise Boom()
    async with db.as_owner() as c:
        count = await (
            await c.execute(
                "select count(*) as n from procrastinate.procrastinate_jobs"
                " where args ->> 'task_id' = %s",
                (str(ids["task_id"]),),
            )
        ).fetchone()
    assert count == {"n": 0}

    async with db.as_service() as c:
        ids = await tasks.create_generation_task(
            c, user_id=user.id, voice_id=voice, text="x", language="English", metadata={}
        )
        job_id = await defer(queue, c, "generate", ids["task_id"])
        path = await (await c.execute("select current_setting('search_path') as p")).fetchone()
    assert path is not None and "procrastinate" not in path["p"]
    async with db.as_owner() as c:
        job = await (
            await c.execute(
                "select task_name, queue_name, status::text, args from"
                " procrastinate.procrastinate_jobs where id = %s",
                (job_id,),
            )
        ).fetchone()
    assert job == {
        "task_name": "utter.generate",
        "queue_name": "speech",
        "status": "todo",
        "args": {"task_id": str(ids["task_id"])},
    }
