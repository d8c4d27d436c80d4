"""The rules of a generation request and of a design preview, checked before anything is
read or queued: plain domain errors, in the order clients see their messages, with the
length limits of utter.limits. No database: these run in milliseconds."""

from __future__ import annotations

from uuid import UUID

import pytest

from utter.errors import Invalid
from utter.limits import DESIGN_INSTRUCT_MAX, DESIGN_TEXT_MAX, GENERATION_TEXT_MAX
from utter.services.generate import GenerationRules, check_generation, check_preview

RULES = GenerationRules(languages=("Auto", "English"), design_languages=("English",))
VOICE = "7d8c3a1e-1111-4111-8111-111111111111"


@pytest.mark.parametrize(
    ("voice_id", "text", "language", "message"),
    [
        (None, None, "Elvish", "Please select a voice"),
        ("nope", None, None, "Invalid voice_id"),
        (VOICE, None, "Elvish", "Please enter text to speak"),
        (VOICE, "x" * (GENERATION_TEXT_MAX + 1), "Elvish", "Text cannot exceed 10000 characters"),
        (VOICE, "x", "Elvish", "Language Elvish is not supported by this server."),
    ],
)
def test_a_generation_request_is_refused_by_its_first_broken_rule(
    voice_id: str | None, text: str | None, language: str | None, message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        check_generation(voice_id, text, language, RULES)
    assert refused.value.message == message


def test_a_generation_request_at_the_limit_is_taken_and_no_language_means_auto() -> None:
    request = check_generation(VOICE, "x" * GENERATION_TEXT_MAX, None, RULES)
    assert (request.voice_id, len(request.text), request.language) == (
        UUID(VOICE),
        GENERATION_TEXT_MAX,
        "Auto",
    )


@pytest.mark.parametrize(
    ("text", "instruct", "language", "message"),
    [
        (None, None, None, "Preview text is required."),
        ("x" * (DESIGN_TEXT_MAX + 1), None, None, "Preview text must be 500 characters or less."),
        ("x", None, None, "Voice description is required."),
        (
            "x",
            "y" * (DESIGN_INSTRUCT_MAX + 1),
            None,
            "Voice description must be 500 characters or less.",
        ),
        ("x", "y", None, "Language is required."),
        ("x", "y", "Auto", "Language Auto is not supported by this server."),
    ],
)
def test_a_design_preview_is_refused_by_its_first_broken_rule(
    text: str | None, instruct: str | None, language: str | None, message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        check_preview(text, language, instruct, RULES)
    assert refused.value.message == message


def test_a_design_preview_at_the_limits_is_taken() -> None:
    request = check_preview("x" * DESIGN_TEXT_MAX, "English", "y" * DESIGN_INSTRUCT_MAX, RULES)
    assert (len(request.text), len(request.instruct), request.language) == (
        DESIGN_TEXT_MAX,
        DESIGN_INSTRUCT_MAX,
        "English",
    )
