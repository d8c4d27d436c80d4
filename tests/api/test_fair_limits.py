"""Per-user limits on queued work and on the daily use of speech and transcription, the cap
on pending clone uploads, and GET /api/usage reporting them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import audio
from tests.support.api import ApiUser, sign_up
from tests.support.objects import make_voice
from tests.support.server import app_settings
from tests.support.users import make_user
from utter.app import create_app
from utter.db import Database
from utter.errors import LimitReached
from utter.services.usage import UsageLimits, check_transcription, count_characters


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def limited(
    db: Database, tmp_path: Path, overrides: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app configured with this test's `overrides` (no worker)."""
    settings = app_settings(tmp_path / "data", public_url="http://testserver", **overrides)
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def preview(text: str = "A short preview.") -> dict[str, str]:
    return {"text": text, "language": "English", "instruct": "A calm voice."}


async def cancel_all(client: httpx.AsyncClient, user: ApiUser) -> None:
    """No worker runs here: cancel what was queued, so no other test's worker runs it."""
    for task in (await client.get("/api/tasks", headers=user.headers)).json()["tasks"]:
        if task["status"] in ("pending", "processing"):
            await client.post(f"/api/tasks/{task['id']}/cancel", headers=user.headers)


async def test_design_preview_limit_holds_under_concurrent_requests(
    limited: httpx.AsyncClient,
) -> None:
    user = await sign_up(limited)
    answers = await asyncio.gather(
        *(
            limited.post("/api/voices/design/preview", json=preview(), headers=user.headers)
            for _ in range(7)
        )
    )
    try:
        assert sorted(r.status_code for r in answers) == [200] * 3 + [409] * 4
        for refused in (r for r in answers if r.status_code == 409):
            assert refused.json() == {
                "detail": "You have 3 design previews in progress. Wait for one to finish"
                " before starting another."
            }
        # Another user is not held back by this one's previews.
        other = await sign_up(limited)
        theirs = await limited.post(
            "/api/voices/design/preview", json=preview(), headers=other.headers
        )
        assert theirs.status_code == 200, theirs.text
        await cancel_all(limited, other)
    finally:
        await cancel_all(limited, user)
    # A finished (here: cancelled) preview frees its place.
    again = await limited.post("/api/voices/design/preview", json=preview(), headers=user.headers)
    assert again.status_code == 200, again.text
    await cancel_all(limited, user)


@pytest.mark.parametrize("overrides", [{"daily_character_limit": 40}])
async def test_daily_character_limit_counts_generations_and_previews(
    limited: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(limited)
    voice = await make_voice(db, user.id)
    text = "Thirty characters of speech.."
    assert len(text) == 29
    try:
        first = await limited.post(
            "/api/generate", json={"voice_id": str(voice), "text": text}, headers=user.headers
        )
        assert first.status_code == 200, first.text
        over = await limited.post(
            "/api/voices/design/preview", json=preview("Twelve chars"), headers=user.headers
        )
        assert over.status_code == 429
        assert "retry-after" not in over.headers  # waiting minutes would not help; a new day will
        assert over.json() == {
            "detail": "This would go over your daily limit of 40 characters (29 used today,"
            " UTC). The limit resets at midnight UTC."
        }
        fits = await limited.post(
            "/api/voices/design/preview", json=preview("Eleven char"), headers=user.headers
        )
        assert fits.status_code == 200, fits.text
    finally:
        await cancel_all(limited, user)
    usage = (await limited.get("/api/usage", headers=user.headers)).json()
    assert usage["daily"]["characters"] == {"used": 40, "limit": 40}
    assert usage["daily"]["transcription_seconds"] == {"used": 0.0, "limit": None}
    day = date.fromisoformat(usage["daily"]["day"])
    assert day == datetime.now(UTC).date()
    # The next day, at midnight UTC.
    assert usage["daily"]["resets_at"] == f"{day + timedelta(days=1)}T00:00:00Z"
    # A refused request counted nothing, and no other user shares the count.
    other = await sign_up(limited)
    daily = (await limited.get("/api/usage", headers=other.headers)).json()["daily"]
    assert daily["characters"] == {"used": 0, "limit": 40}


async def test_the_daily_limits_refuse_with_a_domain_error_and_count_nothing(db: Database) -> None:
    user = await make_user(db)
    async with db.as_service() as conn:
        await count_characters(conn, user.id, 30, 40)
    with pytest.raises(LimitReached) as refused:
        async with db.as_service() as conn:
            await count_characters(conn, user.id, 11, 40)
    assert refused.value.message.startswith("This would go over your daily limit of 40 characters")
    assert refused.value.retry_after is None
    async with db.as_service() as conn:
        await count_characters(conn, user.id, 10, 40)  # the refused 11 were not counted

    limits = UsageLimits(daily_transcription_seconds=1)
    await check_transcription(db, user.id, limits)
    async with db.as_service() as conn:
        await conn.execute(
            "update public.usage_daily set transcription_seconds = 1 where user_id = %s",
            (user.id,),
        )
    with pytest.raises(LimitReached):
        await check_transcription(db, user.id, limits)


async def test_usage_without_limits_keeps_its_fields_and_reports_none(
    limited: httpx.AsyncClient,
) -> None:
    user = await sign_up(limited)
    usage = (await limited.get("/api/usage", headers=user.headers)).json()
    assert usage["voices"] == 0 and usage["generations"] == 0
    assert usage["generated_seconds"] == 0.0
    assert usage["daily"]["characters"] == {"used": 0, "limit": None}
    assert usage["daily"]["transcription_seconds"] == {"used": 0.0, "limit": None}


@pytest.mark.parametrize("overrides", [{"daily_transcription_seconds": 600}])
async def test_transcription_seconds_are_counted_and_refused_at_the_limit(
    limited: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(limited)
    clip = audio.speech(audio.SENTENCES[2])
    done = await limited.post(
        "/api/transcriptions",
        files={"audio": ("a.wav", audio.encode(clip, "wav"))},
        data={"language": "English"},
        headers=user.headers,
    )
    assert done.status_code == 200, done.text
    daily = (await limited.get("/api/usage", headers=user.headers)).json()["daily"]
    assert daily["transcription_seconds"]["limit"] == 600
    assert daily["transcription_seconds"]["used"] == pytest.approx(clip.duration, abs=0.1)

    async with db.as_service() as conn:
        await conn.execute(
            "update public.usage_daily set transcription_seconds = 600 where user_id = %s",
            (user.id,),
        )
    refused = await limited.post(
        "/api/transcriptions",
        files={"audio": ("a.wav", audio.encode(clip, "wav"))},
        headers=user.headers,
    )
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "You have used your daily limit of 600 seconds of transcription (UTC day)."
        " The limit resets at midnight UTC."
    }


CLONE_FIELDS = {"name": "Joe", "language": "English", "transcript": "Hello there."}


@pytest.mark.parametrize("overrides", [{"max_pending_uploads": 2}])
async def test_pending_upload_urls_are_capped_per_user(
    limited: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(limited)
    answers = await asyncio.gather(
        *(
            limited.post("/api/clone/upload-url", json=CLONE_FIELDS, headers=user.headers)
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 200, 429, 429, 429]
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json() == {
        "detail": "You have 2 uploads waiting to be finished. Finish one (or wait for its"
        " upload link to expire) before starting another."
    }
    other = await sign_up(limited)
    theirs = await limited.post("/api/clone/upload-url", json=CLONE_FIELDS, headers=other.headers)
    assert theirs.status_code == 200, theirs.text

    # A finalized upload (its voice exists) no longer counts, nor does an expired link.
    granted = [r.json() for r in answers if r.status_code == 200]
    async with db.as_service() as conn:
        await conn.execute(
            "insert into public.voices (id, user_id, name, source)"
            " values (%s, %s, 'v', 'uploaded')",
            (uuid.UUID(granted[0]["voice_id"]), user.id),
        )
        await conn.execute(
            "update utter.upload_grants set expires_at = now() - interval '1 second'"
            " where voice_id = %s",
            (uuid.UUID(granted[1]["voice_id"]),),
        )
    for _ in range(2):
        more = await limited.post("/api/clone/upload-url", json=CLONE_FIELDS, headers=user.headers)
        assert more.status_code == 200, more.text
    full = await limited.post("/api/clone/upload-url", json=CLONE_FIELDS, headers=user.headers)
    assert full.status_code == 429
