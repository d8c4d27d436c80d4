"""Paging the voice library and the history: by cursor every row that existed when the walk
began comes back exactly once, even while rows are added; by page number (no rows added)
every row comes back once too, and each page's `next_cursor` continues right after it.
A cursor that no page gave is a 400, and another user's cursor reveals none of their rows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.api import ApiUser, sign_up
from utter.audio.peaks import LEVELS, STORED_PEAKS, peaks, unpack
from utter.db import Database
from utter.db.queries import tasks as task_q

BASE = datetime(2026, 1, 1, tzinfo=UTC)


async def _add_generations(db: Database, owner: uuid.UUID, when: list[datetime]) -> list[str]:
    ids = [uuid.uuid4() for _ in when]
    async with db.as_service() as conn:
        for gid, at in zip(ids, when, strict=True):
            await conn.execute(
                "insert into public.generations (id, user_id, text, status, created_at)"
                " values (%s, %s, %s, 'failed', %s)",
                (gid, owner, f"Line {gid}", at),
            )
    return [str(i) for i in ids]


async def _add_voices(db: Database, owner: uuid.UUID, when: list[datetime]) -> list[str]:
    ids = [uuid.uuid4() for _ in when]
    async with db.as_service() as conn:
        for vid, at in zip(ids, when, strict=True):
            await conn.execute(
                "insert into public.voices (id, user_id, name, source, created_at)"
                " values (%s, %s, %s, 'designed', %s)",
                (vid, owner, f"Voice {vid.hex[:8]}", at),
            )
    return [str(i) for i in ids]


Adder = Callable[[Database, uuid.UUID, list[datetime]], Awaitable[list[str]]]
LISTS: list[tuple[str, str, Adder]] = [
    ("/api/generations", "generations", _add_generations),
    ("/api/voices", "voices", _add_voices),
]
lists = pytest.mark.parametrize(("route", "key", "add"), LISTS, ids=["generations", "voices"])


def _times(count: int, start: datetime = BASE) -> list[datetime]:
    """Newest last, three rows to each instant: the id must break ties."""
    return [start + timedelta(seconds=i // 3) for i in range(count)]


async def _get(
    client: httpx.AsyncClient, user: ApiUser, route: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(route, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@lists
async def test_walking_by_cursor_while_rows_are_added_yields_each_row_once(
    client: httpx.AsyncClient, db: Database, route: str, key: str, add: Adder
) -> None:
    user = await sign_up(client)
    existing = set(await add(db, user.id, _times(40)))

    seen: list[str] = []
    page = await _get(client, user, route, per_page=7)
    later = BASE + timedelta(days=1)
    while True:
        seen += [row["id"] for row in page[key]]
        # Newer rows land at the top of the list between every two fetches.
        later += timedelta(seconds=1)
        await add(db, user.id, [later, later])
        if page["next_cursor"] is None:
            break
        page = await _get(client, user, route, per_page=7, cursor=page["next_cursor"])

    assert len(seen) == len(set(seen)) == 40
    assert set(seen) == existing


@lists
async def test_page_numbers_yield_each_row_once_and_their_cursor_continues_after_them(
    client: httpx.AsyncClient, db: Database, route: str, key: str, add: Adder
) -> None:
    user = await sign_up(client)
    existing = set(await add(db, user.id, _times(23)))

    seen: list[str] = []
    for number in range(1, 5):
        page = await _get(client, user, route, per_page=6, page=number)
        assert page["pagination"] == {"page": number, "per_page": 6, "total": 23, "pages": 4}
        seen += [row["id"] for row in page[key]]
        if number < 4:
            following = await _get(client, user, route, per_page=6, page=number + 1)
            by_cursor = await _get(client, user, route, per_page=6, cursor=page["next_cursor"])
            assert [r["id"] for r in by_cursor[key]] == [r["id"] for r in following[key]]
        else:
            assert page["next_cursor"] is None
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == existing


@lists
async def test_a_cursor_no_page_gave_is_a_400(
    client: httpx.AsyncClient, db: Database, route: str, key: str, add: Adder
) -> None:
    user = await sign_up(client)
    await add(db, user.id, _times(3))
    for bad in ("abc", "x" * 32, "!" * 32, "/" * 32, "é" * 32, "A" * 31 + "é", "A" * 33):
        response = await client.get(route, params={"cursor": bad}, headers=user.headers)
        assert (response.status_code, response.json()) == (400, {"detail": "Invalid cursor."})


@lists
async def test_another_users_cursor_shows_only_the_callers_older_rows(
    client: httpx.AsyncClient, db: Database, route: str, key: str, add: Adder
) -> None:
    owner, caller = await sign_up(client), await sign_up(client)
    theirs = await add(db, owner.id, _times(6, BASE + timedelta(hours=1)))
    older = await add(db, caller.id, _times(3))
    await add(db, caller.id, _times(3, BASE + timedelta(hours=2)))

    their_page = await _get(client, owner, route, per_page=2)
    assert their_page[key][0]["id"] in theirs
    mine = await _get(client, caller, route, cursor=their_page["next_cursor"])

    assert {row["id"] for row in mine[key]} == set(older)
    assert mine["pagination"]["total"] == 6


async def test_peaks_are_stored_as_bytes_and_sent_as_fractions(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    samples = np.sin(np.linspace(0, 40, 24_000 * 3)).astype(np.float32) * np.linspace(0, 1, 72_000)
    values = peaks(samples.astype(np.float32), STORED_PEAKS)
    async with db.as_service() as conn:
        generation = await (
            await conn.execute(
                "insert into public.generations (user_id, text, status) values (%s, 'Hi',"
                " 'processing') returning id",
                (user.id,),
            )
        ).fetchone()
        assert generation is not None
        task = await (
            await conn.execute(
                "insert into public.tasks (user_id, type, status, generation_id) values"
                " (%s, 'generate', 'processing', %s) returning id",
                (user.id, generation["id"]),
            )
        ).fetchone()
        assert task is not None
        assert await task_q.complete_generation(
            conn,
            task_id=task["id"],
            generation_id=generation["id"],
            audio_object_key=f"{user.id}/{generation['id']}.wav",
            duration_seconds=3.0,
            peaks=values,
        )
        stored = await (
            await conn.execute(
                "select peaks, pg_column_size(peaks) as size from public.generations where id = %s",
                (generation["id"],),
            )
        ).fetchone()
    assert stored is not None
    assert isinstance(stored["peaks"], bytes) and len(stored["peaks"]) == STORED_PEAKS
    assert stored["size"] <= STORED_PEAKS + 4

    (item,) = (await _get(client, user, "/api/generations"))["generations"]
    sent = item["peaks"]
    assert len(sent) == STORED_PEAKS and max(sent) == 1.0
    assert all(0.0 <= v <= 1.0 and round(v, 3) == v for v in sent)
    assert sent == pytest.approx(values, abs=0.5 / LEVELS + 0.0005)
    assert sent == unpack(stored["peaks"])
