"""The OpenAI dialect at /v1: speech, models and transcriptions as OpenAI's API answers
them, so OpenAI's SDKs and the tools built on them work against Utter unchanged.

Authentication is the API's own: a personal API key (or a session token) as
`Authorization: Bearer …`. Errors are in OpenAI's shape (utter/api/openai_errors.py).
The rules live in utter/services/speech.py; speech is an ordinary generation, streamed
as its pieces are made (utter/services/audio_stream.py).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from utter.api.context import Studio, StudioDep
from utter.api.deps import CurrentUser, DatabaseDep, SettingsDep
from utter.api.forms import UPLOAD_FORM_LIMITS, reject_unstorable
from utter.api.transcriptions import transcribe_file
from utter.errors import NotFound
from utter.services.audio_stream import TaskStream, open_task_stream, parts_listener
from utter.services.speech import (
    TRANSCRIPT_FORMATS,
    FieldInvalid,
    check_model,
    check_speech,
    speech_models,
    submit_speech,
    transcription_models,
)

router = APIRouter(tags=["openai"])

# OpenAI's `created` is when a model was made; these are as old as this process.
STARTED = int(time.time())


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "utter"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


def _model_ids(studio: Studio) -> tuple[str, ...]:
    ids = speech_models(studio.engine.name)
    if studio.transcriber.enabled:
        ids = (*ids, *transcription_models(studio.transcriber.model))
    return ids


@router.get("/models")
async def list_models(_user: CurrentUser, studio: StudioDep) -> ModelList:
    """The configured engine's speech model and OpenAI's names for it (`tts-1`,
    `tts-1-hd`, `gpt-4o-mini-tts`); with transcription on, the transcriber's model and
    OpenAI's names for it (`whisper-1`, …)."""
    return ModelList(data=[ModelOut(id=i, created=STARTED) for i in _model_ids(studio)])


@router.get("/models/{model}")
async def get_model(model: str, _user: CurrentUser, studio: StudioDep) -> ModelOut:
    """One model of GET /v1/models; 404 for any other name."""
    if model not in _model_ids(studio):
        raise NotFound(f"The model '{model}' does not exist.", code="model_not_found")
    return ModelOut(id=model, created=STARTED)


class SpeechIn(BaseModel):
    """OpenAI's speech body. Checked by the service (utter.services.speech), so a wrong
    field is refused in OpenAI's words with its `param`."""

    model_config = ConfigDict(extra="ignore")

    model: Any = Field(None, description="A model of GET /v1/models, e.g. `tts-1`.")
    input: Any = Field(None, description="The text to speak, 1 to 10,000 characters.")
    voice: Any = Field(
        None,
        description="One of your voice ids, the exact name of one of your voices, or a "
        "stock voice: alloy, ash, ballad, coral, echo, fable, nova, onyx, sage, shimmer, verse.",
    )
    response_format: Any = Field(None, description="mp3 (default), opus, aac, flac, wav, pcm.")
    speed: Any = Field(None, description="0.25 to 4.0 (default 1.0).")
    instructions: Any = Field(
        None, description="A style prompt, kept with the generation for engines that take one."
    )
    stream_format: Any = Field(None, description="audio (default) or sse.")


async def _sse(stream: TaskStream, characters: int) -> AsyncIterator[bytes]:
    """OpenAI's server-sent events form of the same audio: `speech.audio.delta` events
    with base64 audio, then `speech.audio.done` (or an `error` event when the generation
    failed or was cancelled, which a plain audio stream can only show by ending early)."""
    async for chunk in stream.chunks():
        if chunk:
            event = {"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()}
            yield f"data: {json.dumps(event)}\n\n".encode()
    if stream.status not in (None, "completed"):
        message = stream.error or f"The generation was {stream.status}."
        failed = {"type": "error", "error": {"message": message, "type": "server_error"}}
        yield f"data: {json.dumps(failed)}\n\n".encode()
        return
    # Utter counts characters, not tokens: the usage says the characters spoken.
    usage_counts = {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters}
    done = {"type": "speech.audio.done", "usage": usage_counts}
    yield f"data: {json.dumps(done)}\n\n".encode()


@router.post(
    "/audio/speech",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/mpeg": {}, "text/event-stream": {}}}},
)
async def create_speech(
    body: SpeechIn, http: Request, user: CurrentUser, db: DatabaseDep, studio: StudioDep
) -> StreamingResponse:
    """Speak `input` in `voice`: queued like POST /api/generate (same limits, saved in
    History), and answered as it is made: the first audio arrives once the engine has
    made the first sentence, then each piece as it is made (chunked)."""
    request = check_speech(body.model_dump(), speech_models(studio.engine.name))
    started = await submit_speech(
        db, studio.queue, user_id=user.id, request=request, rules=studio.generation_rules
    )
    # The task is the caller's and the format one of OpenAI's: this refuses nothing now.
    stream = await open_task_stream(
        db,
        studio.storage,
        user_id=user.id,
        task_id=started.task_id,
        audio_format=request.response_format,
        listener=parts_listener(http.app.state),
    )
    # Which task and generation this is, for a client that wants to follow or keep it;
    # proxies must pass each chunk on as it comes, and nothing may keep a copy.
    headers = {
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
        "X-Utter-Task-Id": str(started.task_id),
        "X-Utter-Generation-Id": str(started.generation_id),
    }
    if request.stream_format == "sse":
        return StreamingResponse(
            _sse(stream, len(request.input)),
            media_type="text/event-stream",
            headers=headers,
        )
    return StreamingResponse(stream.chunks(), media_type=stream.media_type, headers=headers)


class TranscriptionOut(BaseModel):
    text: str


@router.post(
    "/audio/transcriptions",
    form_limits=UPLOAD_FORM_LIMITS,
    response_model=TranscriptionOut,
    responses={200: {"content": {"text/plain": {}}}},
)
async def create_transcription(
    user: CurrentUser,
    studio: StudioDep,
    db: DatabaseDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File()] = None,
    model: Annotated[str | None, Form()] = None,
    language: Annotated[str | None, Form()] = None,
    response_format: Annotated[str | None, Form()] = None,
) -> Response:
    """Speech to text with the configured transcriber (multipart `file`, `model`,
    `language?`, `response_format` json (default) or text)."""
    reject_unstorable(model, language, response_format)
    if studio.transcriber.enabled:
        check_model(model, transcription_models(studio.transcriber.model))
    answer = response_format or "json"
    if answer not in TRANSCRIPT_FORMATS:
        raise FieldInvalid(
            "Invalid 'response_format': expected 'json' or 'text'.", param="response_format"
        )
    if file is None:
        raise FieldInvalid("Missing required parameter: 'file'.", param="file")
    result = await transcribe_file(studio, db, settings, user.id, file, language)
    if answer == "text":
        return PlainTextResponse(result.text)
    return JSONResponse(TranscriptionOut(text=result.text).model_dump())
