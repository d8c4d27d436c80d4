"""The length rules (utter/limits.py): what the API enforces is what the database checks
and what GET /api/limits tells the web app, so no form accepts what a write then refuses."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import pytest

import utter.limits as limits
from utter.limits import HANDLE_PATTERN, TextLimits

MIGRATIONS = Path(limits.__file__).parent / "db" / "migrations"


def _schema_sql() -> str:
    return "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))


def _length_check(column: str) -> tuple[int, int]:
    found = re.search(
        rf"char_length\({column}\) between (\d+) and (\d+)", _schema_sql(), re.IGNORECASE
    )
    assert found, f"no length check on {column} in the migrations"
    return int(found[1]), int(found[2])


def test_a_voice_name_is_as_long_as_the_database_allows() -> None:
    assert _length_check("name") == (1, limits.VOICE_NAME_MAX)


def test_a_display_name_is_as_long_as_the_database_allows() -> None:
    assert _length_check("display_name") == (1, limits.DISPLAY_NAME_MAX)


def test_the_handle_rule_is_the_databases_rule() -> None:
    found = re.search(r"handle ~ '\^(.+?)\$'", _schema_sql())
    assert found and found[1] == HANDLE_PATTERN.pattern
    assert HANDLE_PATTERN.pattern.endswith(f"{{{limits.HANDLE_MIN},{limits.HANDLE_MAX}}}")


@pytest.mark.parametrize(
    ("handle", "ok"),
    [
        ("ada", True),
        ("Ada_Lovelace_1815", True),
        ("a" * 30, True),
        ("ab", False),
        ("a" * 31, False),
        ("ada lovelace", False),
        ("ada-l", False),
        ("adé", False),
        ("ada\n", False),
    ],
)
def test_handles_are_3_to_30_ascii_letters_digits_or_underscores(handle: str, ok: bool) -> None:
    assert (HANDLE_PATTERN.fullmatch(handle) is not None) is ok


def test_the_published_limits_are_the_enforced_ones() -> None:
    assert asdict(TextLimits()) == {
        "voice_name_max": limits.VOICE_NAME_MAX,
        "voice_description_max": limits.VOICE_DESCRIPTION_MAX,
        "generation_text_max": limits.GENERATION_TEXT_MAX,
        "design_text_max": limits.DESIGN_TEXT_MAX,
        "design_instruct_max": limits.DESIGN_INSTRUCT_MAX,
        "display_name_max": limits.DISPLAY_NAME_MAX,
        "handle_min": limits.HANDLE_MIN,
        "handle_max": limits.HANDLE_MAX,
        "api_key_name_max": limits.API_KEY_NAME_MAX,
    }
