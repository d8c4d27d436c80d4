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

import math
from dataclasses import dataclass
from uuid import UUID

import procrastinate
from pydantic import BaseModel

from utter.audio.tempo import SPEED_MAX, SPEED_MIN
from utter.db import Database
from utter.db.queries import tasks as task_q
from utter.db.queries import voices as voice_q
from utter.db.queries.locks import lock_user
from utter.engines.stock import stock_name
from utter.errors import Conflict, Invalid, NotFound
from utter.jobs.queue import defer
from utter.languages import AUTO
from utter.limits import (
    DESIGN_INSTRUCT_MAX,
    DESIGN_TEXT_MAX,
    GENERATION_TEXT_MAX,
    SPEECH_INSTRUCTIONS_MAX,
)
from utter.services.usage import count_characters

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


class GenerationStarted(BaseModel):
    """A queued generation: follow its task for progress, then play the generation."""

    task_id: UUID
    status: str
    is_long_running: bool
    estimated_duration_minutes: float
    generation_id: UUID


class PreviewStarted(BaseModel):
    """A queued design preview: follow its task; save the voice once it has finished."""

    task_id: UUID
    status: str


def estimated_minutes(text: str) -> float:
    return max(0.1, round(len(text) / 375, 1))


def check_language(language: str, supported: tuple[str, ...]) -> None:
    # Only what the configured engine really speaks: a language offered and then refused
    # by the engine would fail the job long after the request was accepted.
    if language not in supported:
        raise Invalid(f"Language {language} is not supported by this server.")


@dataclass(frozen=True)
class GenerationRequest:
    """What POST /api/generate asks for, checked: a saved voice (`voice_id`), or one of the
    built-in voices (`stock_voice`, from the OpenAI dialect), never both."""

    voice_id: UUID | None
    text: str
    language: str
    stock_voice: str | None = None


def _checked_text(text: str | None, language: str | None, rules: GenerationRules) -> str:
    if text is None:
        raise Invalid("Please enter text to speak")
    if len(text) > GENERATION_TEXT_MAX:
        raise Invalid(f"Text cannot exceed {GENERATION_TEXT_MAX} characters")
    language = language or AUTO
    check_language(language, rules.languages)
    return language


def check_generation(
    voice_id: str | None, text: str | None, language: str | None, rules: GenerationRules
) -> GenerationRequest:
    """The request's own rules, in the order clients see their messages; no language
    means the engine chooses (Auto)."""
    if voice_id is None:
        raise Invalid("Please select a voice")
    try:
        parsed_voice = UUID(voice_id)
    except ValueError:
        raise Invalid("Invalid voice_id") from None
    language = _checked_text(text, language, rules)
    assert text is not None
    return GenerationRequest(voice_id=parsed_voice, text=text, language=language)


def check_stock_generation(
    stock_voice: str, text: str | None, language: str | None, rules: GenerationRules
) -> GenerationRequest:
    """A generation in a built-in voice: the same text rules as any other."""
    name = stock_name(stock_voice)
    if name is None:
        raise Invalid(f"Unknown built-in voice {stock_voice}")
    language = _checked_text(text, language, rules)
    assert text is not None
    return GenerationRequest(voice_id=None, text=text, language=language, stock_voice=name)


SPEED_RULE = f"Speed must be a number from {SPEED_MIN} to {SPEED_MAX}."


def check_speed(speed: object) -> float:
    """The speed a generation is spoken at (1.0: as the engine speaks): a number in
    SPEED_MIN..SPEED_MAX, else Invalid in plain words."""
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise Invalid(SPEED_RULE)
    value = float(speed)
    if not math.isfinite(value) or not SPEED_MIN <= value <= SPEED_MAX:
        raise Invalid(SPEED_RULE)
    return value


@dataclass(frozen=True)
class PreviewRequest:
    """What a design preview asks for, checked."""

    text: str
    instruct: str
    language: str


def check_preview(
    text: str | None, language: str | None, instruct: str | None, rules: GenerationRules
) -> PreviewRequest:
    """A design preview's rules, in the order clients see their messages."""
    if text is None:
        raise Invalid("Preview text is required.")
    if len(text) > DESIGN_TEXT_MAX:
        raise Invalid(f"Preview text must be {DESIGN_TEXT_MAX} characters or less.")
    if instruct is None:
        raise Invalid("Voice description is required.")
    if len(instruct) > DESIGN_INSTRUCT_MAX:
        raise Invalid(f"Voice description must be {DESIGN_INSTRUCT_MAX} characters or less.")
    if language is None:
        raise Invalid("Language is required.")
    check_language(language, rules.design_languages)
    return PreviewRequest(text=text, instruct=instruct, language=language)


async def _usable_voice_name(db: Database, user_id: UUID, voice_id: UUID | None) -> str:
    """The name of the caller's voice `voice_id`, refusing one that cannot be spoken in."""
    voice = None
    if voice_id is not None:
        async with db.as_user(user_id) as conn:
            voice = await voice_q.get(conn, voice_id)
    if voice is None:
        raise NotFound("Voice not found")
    if not voice["reference_transcript"]:
        raise Invalid(
            "This voice has no reference transcript. Re-clone with a transcript to use it."
        )
    if not voice["reference_object_key"]:
        raise Invalid("Voice has no reference audio.")
    name: str = voice["name"]
    return name


async def submit_generation(
    db: Database,
    queue: procrastinate.App,
    *,
    user_id: UUID,
    voice_id_raw: str | None,
    text: str | None,
    language: str | None,
    rules: GenerationRules,
    speed: float = 1.0,
    stock_voice: str | None = None,
    instructions: str | None = None,
) -> GenerationStarted:
    """Queue a generation of `text` in the caller's saved voice `voice_id_raw`, or in the
    built-in voice `stock_voice` (then `voice_id_raw` is ignored), spoken at `speed`
    (0.25..4.0, applied by the worker to each piece and the finished clip).
    `instructions` (a style prompt) is kept with the generation for engines that take one."""
    if stock_voice is not None:
        req = check_stock_generation(stock_voice, text, language, rules)
    else:
        req = check_generation(voice_id_raw, text, language, rules)
    speed = check_speed(speed)
    if instructions is not None and len(instructions) > SPEECH_INSTRUCTIONS_MAX:
        raise Invalid(f"Instructions cannot exceed {SPEECH_INSTRUCTIONS_MAX} characters")
    if req.stock_voice is not None:
        voice_name = req.stock_voice
    else:
        voice_name = await _usable_voice_name(db, user_id, req.voice_id)

    metadata = {
        "voice_id": str(req.voice_id) if req.voice_id else None,
        "voice_name": voice_name,
        "text_length": len(req.text),
        "text_preview": req.text[:50] + ("..." if len(req.text) > 50 else ""),
        "language": req.language,
        "estimated_duration_minutes": estimated_minutes(req.text),
    }
    async with db.as_service() as conn:
        await lock_user(conn, "generate", user_id)
        if await task_q.count_active(conn, user_id, "generate") >= rules.max_active:
            raise Conflict(BUSY)
        ids = await task_q.create_generation_task(
            conn,
            user_id=user_id,
            voice_id=req.voice_id,
            text=req.text,
            language=req.language,
            metadata=metadata,
            speed=speed,
            stock_voice=req.stock_voice,
            instructions=instructions,
        )
        if ids is None:
            # The schema's one-active-generation index: a race the lock did not see (limit 1).
            raise Conflict(BUSY)
        await count_characters(conn, user_id, len(req.text), rules.daily_characters)
        priority = await task_q.queue_priority(conn, user_id, ids["task_id"])
        job_id = await defer(queue, conn, "generate", ids["task_id"], priority=priority)
        await task_q.set_queue_job(conn, ids["task_id"], job_id)
    return GenerationStarted(
        task_id=ids["task_id"],
        status="processing",
        is_long_running=True,
        estimated_duration_minutes=estimated_minutes(req.text),
        generation_id=ids["generation_id"],
    )


async def submit_design_preview(
    db: Database,
    queue: procrastinate.App,
    *,
    user_id: UUID,
    text: str | None,
    language: str | None,
    instruct: str | None,
    rules: GenerationRules,
) -> PreviewStarted:
    req = check_preview(text, language, instruct, rules)
    async with db.as_service() as conn:
        await lock_user(conn, "design", user_id)
        active = await task_q.count_active(conn, user_id, "design_preview")
        if active >= rules.max_active_design_previews:
            raise Conflict(design_busy(rules.max_active_design_previews))
        # The preview's text is spoken like any generation's, so it counts the same.
        await count_characters(conn, user_id, len(req.text), rules.daily_characters)
        task_id = await task_q.create_design_task(
            conn,
            user_id=user_id,
            metadata={"text": req.text, "language": req.language, "instruct": req.instruct},
        )
        priority = await task_q.queue_priority(conn, user_id, task_id)
        job_id = await defer(queue, conn, "design_preview", task_id, priority=priority)
        await task_q.set_queue_job(conn, task_id, job_id)
    return PreviewStarted(task_id=task_id, status="pending")
