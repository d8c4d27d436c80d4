"""The rules on what people type for a voice (utter/services/voices.py), without a database:
one name rule and one description rule for every way a voice is made or renamed, and the
order in which a clone's fields are refused."""

from __future__ import annotations

import pytest

from utter.errors import Invalid
from utter.limits import VOICE_DESCRIPTION_MAX, VOICE_NAME_MAX
from utter.services.voices import (
    CloneRequest,
    check_clone_fields,
    check_description,
    check_name,
    voice_changes,
)

NAME_RULE = "Name must be 1-100 characters."
DESCRIPTION_RULE = "Description must be 1000 characters or less."
LANGUAGES = ("English", "French")


def test_a_name_is_one_to_the_limit_characters() -> None:
    assert check_name("n") == "n"
    assert check_name("n" * VOICE_NAME_MAX) == "n" * VOICE_NAME_MAX
    for bad in (None, "", "n" * (VOICE_NAME_MAX + 1)):
        with pytest.raises(Invalid) as refused:
            check_name(bad)
        assert refused.value.message == NAME_RULE


def test_a_description_is_optional_and_at_most_the_limit() -> None:
    assert check_description(None) is None
    assert check_description("d" * VOICE_DESCRIPTION_MAX) == "d" * VOICE_DESCRIPTION_MAX
    with pytest.raises(Invalid) as refused:
        check_description("d" * (VOICE_DESCRIPTION_MAX + 1))
    assert refused.value.message == DESCRIPTION_RULE


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        # Each request breaks its rule and every later one: the first rule broken is said.
        (CloneRequest(None, None, None, "d" * 1001), NAME_RULE),
        (CloneRequest("V", None, None, "d" * 1001), "Language is required."),
        (
            CloneRequest("V", "Klingon", None, "d" * 1001),
            "Language Klingon is not supported by this server.",
        ),
        (CloneRequest("V", "French", None, "d" * 1001), "Transcript is required."),
        (CloneRequest("V", "French", "Bonjour.", "d" * 1001), DESCRIPTION_RULE),
    ],
)
def test_clone_fields_are_refused_in_order(request_: CloneRequest, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_clone_fields(request_, LANGUAGES)
    assert refused.value.message == message


def test_clone_fields_that_keep_the_rules_pass() -> None:
    request_ = CloneRequest("V", "English", "Hello.", "d" * VOICE_DESCRIPTION_MAX)
    assert check_clone_fields(request_, LANGUAGES) == ("V", "English", "Hello.")


def test_a_rename_trims_the_name_and_a_blank_or_null_description_clears_it() -> None:
    assert voice_changes({"name": "  New  "}) == {"name": "New"}
    assert voice_changes({"description": "  "}) == {"description": None}
    assert voice_changes({"description": None, "name": "N"}) == {"description": None, "name": "N"}
    assert voice_changes({"description": " Warm "}) == {"description": "Warm"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "No valid fields to update."),
        ({"source": "designed"}, "No valid fields to update."),
        ({"name": 5}, NAME_RULE),
        ({"name": "   "}, NAME_RULE),
        ({"name": None}, NAME_RULE),
        ({"description": 5}, "Description must be text or null."),
        ({"description": "d" * (VOICE_DESCRIPTION_MAX + 1)}, DESCRIPTION_RULE),
    ],
)
def test_a_rename_refuses_in_plain_words(changes: dict[str, object], message: str) -> None:
    with pytest.raises(Invalid) as refused:
        voice_changes(changes)
    assert refused.value.message == message
