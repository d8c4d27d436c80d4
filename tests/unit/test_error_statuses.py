"""The one mapping from domain errors to HTTP (utter/api/errors.py): each kind its status,
subclasses their parent's, Retry-After only when the error says when to retry."""

from __future__ import annotations

import pytest

from utter import errors
from utter.api.errors import _describe_validation_error, http_headers, http_status
from utter.audio.errors import AudioError

KINDS = [
    (errors.Invalid, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.TooLarge, 413),
    (errors.UnsupportedMedia, 415),
    (errors.Unprocessable, 422),
    (errors.LimitReached, 429),
    (errors.Failed, 500),
    (errors.UpstreamFailed, 502),
    (errors.Unavailable, 503),
]


@pytest.mark.parametrize(("kind", "status"), KINDS)
def test_each_kind_has_its_status(kind: type[errors.UtterError], status: int) -> None:
    assert http_status(kind("plain words")) == status


@pytest.mark.parametrize(("kind", "status"), KINDS)
def test_a_subclass_answers_as_its_kind(kind: type[errors.UtterError], status: int) -> None:
    special = type("Special" + kind.__name__, (kind,), {})
    assert http_status(special("x")) == status


def test_an_error_of_no_kind_is_a_500() -> None:
    assert http_status(errors.UtterError("x")) == 500


def test_audio_refusals_are_400s() -> None:
    refusal = AudioError("This file is a PNG image, not audio.", "not_audio")
    assert http_status(refusal) == 400
    assert refusal.message == "This file is a PNG image, not audio."


def test_retry_after_becomes_the_header_and_only_then() -> None:
    assert http_headers(errors.Unavailable("busy", retry_after=5)) == {"Retry-After": "5"}
    assert http_headers(errors.LimitReached("slow down", retry_after=0)) == {"Retry-After": "0"}
    assert http_headers(errors.Unavailable("busy")) is None


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        ({"type": "json_invalid", "loc": ("body", 1)}, "Invalid JSON body"),
        ({"type": "missing", "loc": ("body", "name")}, "name is required."),
        ({"type": "missing", "loc": ("body",)}, "A required field is missing."),
        (
            {"type": "int_parsing", "loc": ("query", "page"), "msg": "not an int"},
            "page: not an int",
        ),
        ({"type": "value_error", "loc": (), "msg": "bad"}, "bad"),
    ],
)
def test_validation_errors_become_one_plain_sentence(error: dict[str, object], detail: str) -> None:
    assert _describe_validation_error(error) == detail
