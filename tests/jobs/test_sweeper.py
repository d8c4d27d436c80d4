"""The sweeper: stale tasks requeued with a new job, unsaved design previews removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.server import app_settings
from tests.support.users import make_user
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.jobs.queue import create_queue
from utter.jobs.sweeper import SweepPolicy, sweep
from utter.storage import LocalStorage, create_storage


async def test_unsaved_previews_are_deleted_after_their_time(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    storage = create_storage(app_settings(tmp_path / "data"), db)
    user = await make_user(db)
    keys = {}
    async with db.as_service() as conn:
        for label, age in (("old", "2 days"), ("fresh", "1 hour")):
            row = await (
                await conn.execute(
                    "insert into public.tasks (user_id, type, status, completed_at)"
                    " values (%s, 'design_preview', 'completed', now() - %s::interval)"
                    " returning id",
                    (user.id, age),
                )
            ).fetchone()
            assert row is not None
            keys[label] = (row["id"], f"{user.id}/preview_{row['id']}.wav")
            await conn.execute(
                "update public.tasks set result = jsonb_build_object('object_key', %s::text)"
                " where id = %s",
                (keys[label][1], row["id"]),
            )
    for _, key in keys.values():
        await storage.put("references", key, b"RIFF....WAVE", "audio/wav", owner=user.id)

    queue = create_queue(database_url)
    async with queue.open_async():
        report = await sweep(db, queue, storage, SweepPolicy(preview_ttl_hours=24))
    assert report.previews_removed >= 1
    assert await storage.stat("references", keys["old"][1]) is None
    assert await storage.stat("references", keys["fresh"][1]) is not None
    async with db.as_service() as conn:
        old = await task_q.get(conn, keys["old"][0])
        fresh = await task_q.get(conn, keys["fresh"][0])
    assert old is not None and old["result"] == {"expired": True}
    assert fresh is not None and fresh["result"] == {"object_key": keys["fresh"][1]}


async def test_a_stale_task_gets_a_new_queue_job(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    user = await make_user(db)
    async with db.as_service() as conn:
        row = await (
            await conn.execute(
                "insert into public.tasks (user_id, type, status, started_at, heartbeat_at,"
                " attempts, metadata) values (%s, 'design_preview', 'processing',"
                " now() - interval '5 minutes', now() - interval '5 minutes', 1,"
                ' \'{"text": "hi", "instruct": "calm"}\') returning id',
                (user.id,),
            )
        ).fetchone()
    assert row is not None
    queue = create_queue(database_url)
    async with queue.open_async():
        storage = create_storage(app_settings(tmp_path / "data"), db)
        report = await sweep(db, queue, storage, SweepPolicy(stale_after_seconds=30))
    assert report.requeued >= 1
    async with db.as_service() as conn:
        task = await task_q.get(conn, row["id"])
    assert task is not None and task["status"] == "pending" and task["queue_job_id"] is not None
    async with db.as_owner() as conn:
        job = await (
            await conn.execute(
                "select task_name, status::text, args from procrastinate.procrastinate_jobs"
                " where id = %s",
                (task["queue_job_id"],),
            )
        ).fetchone()
    assert job == {
        "task_name": "utter.design_preview",
        "status": "todo",
        "args": {"task_id": str(row["id"])},
    }


async def test_a_requeued_task_queues_behind_its_users_other_work(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    user = await make_user(db)
    async with db.as_service() as conn:
        stale = await (
            await conn.execute(
                "insert into public.tasks (user_id, type, status, started_at, heartbeat_at,"
                " attempts, metadata) values (%s, 'design_preview', 'processing',"
                " now() - interval '5 minutes', now() - interval '5 minutes', 1,"
                ' \'{"text": "hi", "instruct": "calm"}\') returning id',
                (user.id,),
            )
        ).fetchone()
        # One more of theirs waiting (counts) and one finished (does not).
        await conn.execute(
            "insert into public.tasks (user_id, type, status) values"
            " (%s, 'design_preview', 'pending'), (%s, 'design_preview', 'completed')",
            (user.id, user.id),
        )
    assert stale is not None
    queue = create_queue(database_url)
    async with queue.open_async():
        storage = create_storage(app_settings(tmp_path / "data"), db)
        await sweep(db, queue, storage, SweepPolicy(stale_after_seconds=30))
    async with db.as_owner() as conn:
        job = await (
            await conn.execute(
                "select j.priority from procrastinate.procrastinate_jobs j"
                " join public.tasks t on t.queue_job_id = j.id where t.id = %s",
                (stale["id"],),
            )
        ).fetchone()
    assert job == {"priority": -1}


async def test_interrupted_local_upload_files_are_deleted_after_the_upload_ttl(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    storage = create_storage(app_settings(tmp_path / "data", upload_ttl_hours=2), db)
    assert isinstance(storage, LocalStorage)
    storage.tmp_dir.mkdir(parents=True)
    old, fresh = storage.tmp_dir / "old.part", storage.tmp_dir / "fresh.part"
    for path in (old, fresh):
        path.write_bytes(b"half an upload")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(old, (three_hours_ago, three_hours_ago))

    queue = create_queue(database_url)
    async with queue.open_async():
        report = await sweep(db, queue, storage, SweepPolicy())
        assert report.temporary_removed == 1
        assert not old.exists() and fresh.exists()
        # The folder is listed at most once a minute, however often workers sweep.
        os.utime(fresh, (three_hours_ago, three_hours_ago))
        again = await sweep(db, queue, storage, SweepPolicy())
    assert again.temporary_removed == 0 and fresh.exists()
