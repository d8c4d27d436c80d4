"""The rules of OpenAI's speech API as Utter answers it (POST /v1/audio/speech).

A request names a model (one of GET /v1/models' ids: the configured engine's own, or one
of OpenAI's common names, which are aliases of it), the text (`input`), and a voice: one
of the caller's voice ids, the exact name of one of the caller's voices, or one of
OpenAI's stock voice names, which resolve to Utter's built-in voices (utter.engines.stock).
The speech is then an ordinary generation (utter.services.generate): the same queue, the
same per-user limits, saved in History.

Refusals carry the body field they are about (`param`) and OpenAI's `code`, for the
dialect's error shape (utter/api/openai_errors.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import procrastinate

from utter.audio.tempo import SPEED_MAX, SPEED_MIN
from utter.db import Database
from utter.db.queries import voices as voice_q
from utter.engines.stock import stock_name
from utter.errors import Invalid, NotFound, text_problem
from utter.languages import AUTO
from utter.limits import GENERATION_TEXT_MAX, SPEECH_INSTRUCTIONS_MAX
from utter.services.generate import GenerationRules, GenerationStarted, submit_generation

# OpenAI's model names for speech; each is an alias of the configured engine.
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
# OpenAI's model names for transcription; each is an alias of the configured transcriber.
TRANSCRIPTION_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
RESPONSE_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
STREAM_FORMATS = ("audio", "sse")
TRANSCRIPT_FORMATS = ("json", "text")


class FieldInvalid(Invalid):
    """A refused body field: `param` names it, `code` is OpenAI's name for the refusal."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message, code=code)
        self.param = param


class VoiceNotFound(NotFound):
    """No voice of the caller's (nor a built-in one) goes by that id or name."""

    param = "voice"

    def __init__(self, voice: str) -> None:
        super().__init__(f"Voice '{voice}' not found.", code="voice_not_found")


def engine_model(engine_name: str) -> str:
    """The configured engine's own model id (`utter-local`, `utter-qwen`, …)."""
    return f"utter-{engine_name}"


def speech_models(engine_name: str) -> tuple[str, ...]:
    """The speech model ids GET /v1/models lists, the engine's own first."""
    return (engine_model(engine_name), *MODEL_ALIASES)


def transcription_models(transcriber_model: str) -> tuple[str, ...]:
    """The transcription model ids GET /v1/models lists, the transcriber's own first."""
    own = (transcriber_model,) if transcriber_model else ()
    return (*own, *(alias for alias in TRANSCRIPTION_ALIASES if alias != transcriber_model))


@dataclass(frozen=True)
class SpeechRequest:
    """A checked POST /v1/audio/speech body."""

    model: str
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float = 1.0
    instructions: str | None = None
    stream_format: str = "audio"


def _string(value: Any, param: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise FieldInvalid(f"Missing required parameter: '{param}'.", param=param)
        return None
    if not isinstance(value, str):
        raise FieldInvalid(
            f"Invalid type for '{param}': expected a string.", param=param, code="invalid_type"
        )
    problem = text_problem(value)  # a NUL or half a surrogate pair: Postgres cannot store it
    if problem is not None:
        raise FieldInvalid(f"Invalid '{param}': {problem}", param=param)
    return value


def _choice(value: Any, param: str, choices: tuple[str, ...], default: str) -> str:
    chosen = _string(value, param, required=False)
    if chosen is None:
        return default
    if chosen not in choices:
        allowed = ", ".join(f"'{choice}'" for choice in choices)
        raise FieldInvalid(f"Invalid '{param}': expected one of {allowed}.", param=param)
    return chosen


def check_model(value: Any, models: tuple[str, ...], param: str = "model") -> str:
    model = _string(value, param, required=True)
    assert model is not None
    if model not in models:
        listed = ", ".join(f"'{m}'" for m in models)
        raise FieldInvalid(
            f"Invalid '{param}': '{model}' is not a model of this server ({listed}).",
            param=param,
            code="model_not_found",
        )
    return model


def check_speed(value: Any) -> float:
    if value is None:
        return 1.0
    # bool is an int to Python, not a number to a JSON client.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldInvalid(
            "Invalid type for 'speed': expected a number.", param="speed", code="invalid_type"
        )
    speed = float(value)
    if not math.isfinite(speed) or not SPEED_MIN <= speed <= SPEED_MAX:
        raise FieldInvalid(
            f"Invalid 'speed': {value} is outside {SPEED_MIN} to {SPEED_MAX}.", param="speed"
        )
    return speed


def check_speech(body: dict[str, Any], models: tuple[str, ...]) -> SpeechRequest:
    """OpenAI's body rules, in its field order; unknown fields are ignored as OpenAI's
    clients add some (`extra_body`)."""
    model = check_model(body.get("model"), models)
    text = _string(body.get("input"), "input", required=True)
    assert text is not None
    if not text.strip():
        raise FieldInvalid("Invalid 'input': the text to speak is empty.", param="input")
    if len(text) > GENERATION_TEXT_MAX:
        raise FieldInvalid(
            f"Invalid 'input': it cannot exceed {GENERATION_TEXT_MAX:,} characters "
            f"(it has {len(text):,}).",
            param="input",
            code="string_above_max_length",
        )
    voice = _string(body.get("voice"), "voice", required=True)
    assert voice is not None
    if not voice.strip():
        raise FieldInvalid("Invalid 'voice': it is empty.", param="voice")
    response_format = _choice(
        body.get("response_format"), "response_format", RESPONSE_FORMATS, "mp3"
    )
    speed = check_speed(body.get("speed"))
    instructions = _string(body.get("instructions"), "instructions", required=False)
    if instructions is not None and len(instructions) > SPEECH_INSTRUCTIONS_MAX:
        raise FieldInvalid(
            f"Invalid 'instructions': it cannot exceed {SPEECH_INSTRUCTIONS_MAX:,} characters.",
            param="instructions",
            code="string_above_max_length",
        )
    stream_format = _choice(body.get("stream_format"), "stream_format", STREAM_FORMATS, "audio")
    return SpeechRequest(
        model=model,
        input=text,
        voice=voice,
        response_format=response_format,
        speed=speed,
        instructions=instructions or None,
        stream_format=stream_format,
    )


@dataclass(frozen=True)
class ResolvedVoice:
    """A caller's saved voice (`voice_id`, with its language) or a built-in one (`stock`)."""

    voice_id: UUID | None = None
    language: str | None = None
    stock: str | None = None


async def resolve_voice(db: Database, user_id: UUID, voice: str) -> ResolvedVoice:
    """`voice` as an id of the caller's voices, else the exact name of one of them (the
    newest when several share it), else a stock voice name; VoiceNotFound otherwise. Read
    under the caller's row-level security, so another user's voice is unknown here."""
    wanted = voice.strip()
    try:
        voice_id: UUID | None = UUID(wanted)
    except ValueError:
        voice_id = None
    async with db.as_user(user_id) as conn:
        row = await voice_q.get(conn, voice_id) if voice_id is not None else None
        if row is None:
            row = await voice_q.newest_named(conn, voice)
    if row is not None:
        return ResolvedVoice(voice_id=row["id"], language=row["language"])
    stock = stock_name(wanted)
    if stock is not None:
        return ResolvedVoice(stock=stock)
    raise VoiceNotFound(voice)


def speech_language(voice: ResolvedVoice, languages: tuple[str, ...]) -> str:
    """OpenAI's body names no language: let the engine choose from the text when it can,
    else speak the voice's own language (the built-in voices speak English)."""
    if AUTO in languages:
        return AUTO
    return voice.language or "English"


async def submit_speech(
    db: Database,
    queue: procrastinate.App,
    *,
    user_id: UUID,
    request: SpeechRequest,
    rules: GenerationRules,
) -> GenerationStarted:
    """Queue the speech as a generation of the caller's (History keeps it)."""
    voice = await resolve_voice(db, user_id, request.voice)
    return await submit_generation(
        db,
        queue,
        user_id=user_id,
        voice_id_raw=str(voice.voice_id) if voice.voice_id else None,
        text=request.input,
        language=speech_language(voice, rules.languages),
        rules=rules,
        speed=request.speed,
        stock_voice=voice.stock,
        instructions=request.instructions,
    )
