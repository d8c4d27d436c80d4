"""Fair share: per-user daily limits (UTC days) and the cap on pending clone uploads.

The daily limits are off unless configured (0). Characters are counted when work
is queued, in the transaction that queues it, so a refused request counts nothing.
Transcription is checked before the work (refused once the day's total has reached
the limit) and counted after it, with the seconds of audio actually transcribed:
its length is known only once the audio is decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from utter.audio.decode import decode
from utter.audio.errors import AudioError
from utter.cpu import CpuPool
from utter.db import Database
from utter.db.pool import Connection
from utter.db.queries import usage as q
from utter.db.queries.locks import lock_user
from utter.errors import LimitReached
from utter.settings import Settings
from utter.transcription.base import Transcript


@dataclass(frozen=True)
class UsageLimits:
    daily_characters: int = 0  # 0: no limit
    daily_transcription_seconds: float = 0.0  # 0: no limit
    max_pending_uploads: int = 5
    upload_ttl_hours: float = 24.0

    @classmethod
    def from_settings(cls, settings: Settings) -> UsageLimits:
        return cls(
            daily_characters=settings.daily_character_limit,
            daily_transcription_seconds=settings.daily_transcription_seconds,
            max_pending_uploads=settings.max_pending_uploads,
            upload_ttl_hours=settings.upload_ttl_hours,
        )


def _reset_phrase() -> str:
    return "The limit resets at midnight UTC."


def _amount(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


async def count_characters(conn: Connection, user_id: UUID, n: int, limit: int) -> None:
    """Count `n` characters into the user's day, inside the caller's transaction; refused
    (LimitReached) when that would pass `limit` (0: no limit)."""
    if await q.add_characters(conn, user_id, n, limit or None):
        return
    used = (await q.today(conn, user_id))["characters"]
    raise LimitReached(
        f"This would go over your daily limit of {_amount(limit)} characters "
        f"({_amount(used)} used today, UTC). {_reset_phrase()}",
    )


async def check_transcription(db: Database, user_id: UUID, limits: UsageLimits) -> None:
    """Refuse (LimitReached) a transcription once the user's day has reached its limit."""
    limit = limits.daily_transcription_seconds
    if not limit:
        return
    async with db.as_service() as conn:
        used = float((await q.today(conn, user_id))["transcription_seconds"])
    if used >= limit:
        raise LimitReached(
            f"You have used your daily limit of {_amount(limit)} seconds of transcription "
            f"(UTC day). {_reset_phrase()}",
        )


async def record_transcription(
    db: Database, cpu: CpuPool, user_id: UUID, transcript: Transcript, audio: bytes
) -> float:
    """Count the seconds of audio a finished transcription heard; returns them. When the
    provider did not say, the upload is decoded to measure it, in a CPU process."""
    seconds = transcript.duration_seconds
    if seconds is None:
        seconds = await cpu.run(_duration_of, audio)
    async with db.as_service() as conn:
        await q.add_transcription_seconds(conn, user_id, seconds)
    return seconds


def _duration_of(audio: bytes) -> float:
    try:
        return decode(audio).duration
    except AudioError:
        # The provider understood what our decoder cannot: nothing to measure it by.
        return 0.0


async def reserve_upload(
    db: Database,
    *,
    user_id: UUID,
    voice_id: UUID,
    bucket: str,
    object_key: str,
    expires_at: datetime,
    limits: UsageLimits,
) -> None:
    """Record a handed-out upload URL, or refuse (LimitReached) when the user already holds
    `max_pending_uploads` that are neither finalized nor expired. Checked under a per-user
    advisory lock, so concurrent requests cannot pass the cap together."""
    async with db.as_service() as conn:
        await lock_user(conn, "upload", user_id)
        if await q.count_pending_uploads(conn, user_id) >= limits.max_pending_uploads:
            raise LimitReached(
                f"You have {limits.max_pending_uploads} uploads waiting to be finished. "
                "Finish one (or wait for its upload link to expire) before starting another.",
            )
        await q.record_upload_grant(
            conn,
            user_id=user_id,
            voice_id=voice_id,
            bucket=bucket,
            object_key=object_key,
            expires_at=expires_at,
            sweep_after_seconds=limits.upload_ttl_hours * 3600,
        )


async def today(db: Database, user_id: UUID, limits: UsageLimits) -> dict[str, Any]:
    """The `daily` part of GET /api/usage: today's use and the limits (null: none)."""
    async with db.as_user(user_id) as conn:
        row = await q.today(conn, user_id)
    day: date = row["day"]
    resets_at: datetime = row["resets_at"]
    return {
        "day": day,
        "resets_at": resets_at,
        "characters": {
            "used": int(row["characters"]),
            "limit": limits.daily_characters or None,
        },
        "transcription_seconds": {
            "used": float(row["transcription_seconds"]),
            "limit": limits.daily_transcription_seconds or None,
        },
    }
