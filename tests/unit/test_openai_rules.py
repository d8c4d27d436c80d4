"""The OpenAI dialect's pure rules: the speech body, the model names, stock voice names, the
language a speech is spoken in, and the error shape /v1 answers with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from utter.api.openai_errors import error_type, reshape
from utter.engines.stock import STOCK_VOICES, stock_name
from utter.errors import Conflict, LimitReached, NotFound, Unauthenticated
from utter.languages import AUTO
from utter.limits import GENERATION_TEXT_MAX, SPEECH_INSTRUCTIONS_MAX
from utter.services.speech import (
    MODEL_ALIASES,
    FieldInvalid,
    ResolvedVoice,
    VoiceNotFound,
    check_speech,
    speech_language,
    speech_models,
    transcription_models,
)

MODELS = speech_models("local")
GOOD = {"model": "tts-1", "input": "Hello there.", "voice": "alloy"}


def refused(**changes: Any) -> FieldInvalid:
    body = {**GOOD, **changes}
    with pytest.raises(FieldInvalid) as caught:
        check_speech({k: v for k, v in body.items() if v is not ...}, MODELS)
    return caught.value


def test_the_engine_model_comes_first_then_openais_names_as_aliases() -> None:
    assert MODELS == ("utter-local", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
    assert transcription_models("whisper-1") == (
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
    )
    assert transcription_models("pocketsphinx")[0] == "pocketsphinx"


def test_a_minimal_body_gets_openais_defaults() -> None:
    request = check_speech(GOOD, MODELS)
    assert (request.response_format, request.speed, request.stream_format) == (
        "mp3",
        1.0,
        "audio",
    )
    assert request.instructions is None


@pytest.mark.parametrize("model", [*MODEL_ALIASES, "utter-local"])
def test_every_listed_model_is_accepted(model: str) -> None:
    assert check_speech({**GOOD, "model": model}, MODELS).model == model


def test_an_unknown_model_is_refused_on_its_field() -> None:
    error = refused(model="tts-9")
    assert (error.param, error.code) == ("model", "model_not_found")


@pytest.mark.parametrize("field", ["model", "input", "voice"])
def test_required_fields(field: str) -> None:
    error = refused(**{field: ...})
    assert error.param == field
    assert "Missing required parameter" in error.message


def test_input_length() -> None:
    assert len(check_speech({**GOOD, "input": "a" * GENERATION_TEXT_MAX}, MODELS).input) == (
        GENERATION_TEXT_MAX
    )
    error = refused(input="a" * (GENERATION_TEXT_MAX + 1))
    assert (error.param, error.code) == ("input", "string_above_max_length")
    assert refused(input="   ").param == "input"


def test_wrong_types_are_refused_as_such() -> None:
    assert refused(input=12).code == "invalid_type"
    assert refused(voice=["alloy"]).param == "voice"
    assert refused(speed="fast").code == "invalid_type"
    assert refused(speed=True).code == "invalid_type"


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_openai_response_format(fmt: str) -> None:
    assert check_speech({**GOOD, "response_format": fmt}, MODELS).response_format == fmt


def test_other_formats_are_refused() -> None:
    error = refused(response_format="ogg")
    assert error.param == "response_format"
    assert "'mp3'" in error.message


@pytest.mark.parametrize("speed", [0.25, 1, 2.5, 4.0])
def test_speed_within_range(speed: float) -> None:
    assert check_speech({**GOOD, "speed": speed}, MODELS).speed == float(speed)


@pytest.mark.parametrize("speed", [0.24, 4.01, 0, -1, float("inf")])
def test_speed_out_of_range(speed: float) -> None:
    assert refused(speed=speed).param == "speed"


def test_stream_format_and_instructions() -> None:
    request = check_speech({**GOOD, "stream_format": "sse", "instructions": "Calm."}, MODELS)
    assert (request.stream_format, request.instructions) == ("sse", "Calm.")
    assert refused(stream_format="chunks").param == "stream_format"
    error = refused(instructions="x" * (SPEECH_INSTRUCTIONS_MAX + 1))
    assert error.param == "instructions"


def test_nul_is_refused_before_it_reaches_the_database() -> None:
    assert refused(input="a\x00b").param == "input"
    assert refused(voice="\ud800").param == "voice"


def test_unknown_fields_are_ignored() -> None:
    assert check_speech({**GOOD, "user": "x", "seed": 3}, MODELS).voice == "alloy"


def test_stock_names_are_openais_eleven_in_any_case() -> None:
    assert len(STOCK_VOICES) == 11
    assert stock_name("Alloy") == "alloy"
    assert stock_name(" verse ") == "verse"
    assert stock_name("joe") is None


def test_speech_language() -> None:
    with_auto = (AUTO, "English", "German")
    assert speech_language(ResolvedVoice(stock="alloy"), with_auto) == AUTO
    assert speech_language(ResolvedVoice(stock="alloy"), ("English",)) == "English"
    assert speech_language(ResolvedVoice(language="German"), ("English", "German")) == "German"


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(bytes(response.body))
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def test_errors_are_reshaped_with_status_type_param_and_code() -> None:
    invalid = FieldInvalid("Invalid 'speed'.", param="speed")
    response = reshape(JSONResponse({"detail": invalid.message}, 400), invalid)
    assert response.status_code == 400
    assert _error(response) == {
        "message": "Invalid 'speed'.",
        "type": "invalid_request_error",
        "param": "speed",
        "code": "invalid_value",
    }
    unknown = VoiceNotFound("joe")
    error = _error(reshape(JSONResponse({"detail": unknown.message}, 404), unknown))
    assert (error["param"], error["code"]) == ("voice", "voice_not_found")
    key = Unauthenticated("Invalid or expired token")
    error = _error(reshape(JSONResponse({"detail": key.message}, 401), key))
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")


def test_limits_are_429_and_keep_retry_after() -> None:
    busy = Conflict("A generation is already in progress.")
    response = reshape(JSONResponse({"detail": busy.message}, 409), busy)
    assert response.status_code == 429
    assert _error(response)["type"] == "rate_limit_error"
    limit = LimitReached("Daily limit reached.", retry_after=60)
    response = reshape(
        JSONResponse({"detail": limit.message}, 429, headers={"Retry-After": "60"}), limit
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert _error(response)["code"] == "rate_limit_exceeded"


def test_error_types_by_status() -> None:
    assert error_type(404) == "invalid_request_error"
    assert error_type(503) == "server_error"
    missing = NotFound("Task not found")
    assert _error(reshape(JSONResponse({"detail": "x"}, 404), missing))["param"] is None
