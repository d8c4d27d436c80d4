"""Starting work: a generation (POST /api/generate) or a design preview.

Both create their task row and queue its job in one transaction, so a crash
can never leave a task without a job (or a job without a task). The per-user
limits on active generations and on active design previews are each checked
under a per-user advisory lock, which makes any limit race-free; the partial
unique index of the schema is the database's own backstop when the generation
limit is 1. The same transaction counts the text into the user's daily
characters (when that limit is on, a refusal there undoes everything) and gives
the job its fair-share queue priority (utter.jobs.queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import procrastinate
from psycopg import errors as pg_errors

from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.db.queries import voices as voice_q
from utter.db.queries.locks import lock_user
from utter.errors import ApiError
from utter.jobs.queue import defer
from utter.languages import AUTO
from utter.services.usage import count_characters

MAX_TEXT = 10_000
MAX_DESIGN_TEXT = 500
BUSY = "A generation is already in progress. Please wait for it to finish before starting another."


def design_busy(limit: int) -> str:
    previews = "design preview" if limit == 1 else "design previews"
    return (
        f"You have {limit} {previews} in progress. Wait for one to finish before starting another."
    )


@dataclass(frozen=True)
class GenerationRules:
    languages: tuple[str, ...]  # what the engine speaks, "Auto" included when it can choose
    design_languages: tuple[str, ...]
    max_active: int = 1
    max_active_design_previews: int = 3
    daily_characters: int = 0  # 0: no limit


def estimated_minutes(text: str) -> float:
    return max(0.1, round(len(text) / 375, 1))


def _parse_voice_id(raw: str | None) -> UUID:
    if raw is None:
        raise ApiError(400, "Please select a voice")
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(400, "Invalid voice_id") from None


def check_language(language: str, supported: tuple[str, ...]) -> None:
    # §9.1.9: the original advertised languages its engine then rejected.
    if language not in supported:
        raise ApiError(400, f"Language {language} is not supported by this server.")


async def submit_generation(
    db: Database,
    queue: procrastinate.App,
    *,
    user_id: UUID,
    voice_id_raw: str | None,
    text: str | None,
    language: str | None,
    rules: GenerationRules,
) -> dict[str, Any]:
    voice_id = _parse_voice_id(voice_id_raw)
    if text is None:
        raise ApiError(400, "Please enter text to speak")
    if len(text) > MAX_TEXT:
        raise ApiError(400, f"Text cannot exceed {MAX_TEXT} characters")
    language = language or AUTO
    check_language(language, rules.languages)

    async with db.as_user(user_id) as conn:
        voice = await voice_q.get(conn, voice_id)
    if voice is None:
        raise ApiError(404, "Voice not found")
    if not voice["reference_transcript"]:
        raise ApiError(
            400,
            "This voice has no reference transcript. Re-clone with a transcript to use it.",
        )
    if not voice["reference_object_key"]:
        raise ApiError(400, "Voice has no reference audio.")

    metadata = {
        "voice_id": str(voice_id),
        "voice_name": voice["name"],
        "text_length": len(text),
        "text_preview": text[:50] + ("..." if len(text) > 50 else ""),
        "language": language,
        "estimated_duration_minutes": estimated_minutes(text),
    }
    try:
        async with db.as_service() as conn:
            await lock_user(conn, "generate", user_id)
            if await task_q.count_active_generations(conn, user_id) >= rules.max_active:
                raise ApiError(409, BUSY)
            ids = await task_q.create_generation_task(
                conn,
                user_id=user_id,
                voice_id=voice_id,
                text=text,
                language=language,
                metadata=metadata,
            )
            await count_characters(conn, user_id, len(text), rules.daily_characters)
            priority = await task_q.queue_priority(conn, user_id, ids["task_id"])
            job_id = await defer(queue, conn, "generate", ids["task_id"], priority=priority)
            await task_q.set_queue_job(conn, ids["task_id"], job_id)
    except pg_errors.UniqueViolation:
        raise ApiError(409, BUSY) from None
    return {
        "task_id": ids["task_id"],
        "status": "processing",
        "is_long_running": True,
        "estimated_duration_minutes": metadata["estimated_duration_minutes"],
        "generation_id": ids["generation_id"],
    }


async def submit_design_preview(
    db: Database,
    queue: procrastinate.App,
    *,
    user_id: UUID,
    text: str | None,
    language: str | None,
    instruct: str | None,
    rules: GenerationRules,
) -> dict[str, Any]:
    if text is None:
        raise ApiError(400, "Preview text is required.")
    if len(text) > MAX_DESIGN_TEXT:
        raise ApiError(400, "Preview text must be 500 characters or less.")
    if instruct is None:
        raise ApiError(400, "Voice description is required.")
    if len(instruct) > MAX_DESIGN_TEXT:
        raise ApiError(400, "Voice description must be 500 characters or less.")
    if language is None:
        raise ApiError(400, "Language is required.")
    check_language(language, rules.design_languages)
    async with db.as_service() as conn:
        await lock_user(conn, "design", user_id)
        if (
            await task_q.count_active_design_previews(conn, user_id)
            >= rules.max_active_design_previews
        ):
            raise ApiError(409, design_busy(rules.max_active_design_previews))
        # The preview's text is spoken like any generation's, so it counts the same.
        await count_characters(conn, user_id, len(text), rules.daily_characters)
        task_id = await task_q.create_design_task(
            conn,
            user_id=user_id,
            metadata={"text": text, "language": language, "instruct": instruct},
        )
        priority = await task_q.queue_priority(conn, user_id, task_id)
        job_id = await defer(queue, conn, "design_preview", task_id, priority=priority)
        await task_q.set_queue_job(conn, task_id, job_id)
    return {"task_id": task_id, "status": "pending"}
