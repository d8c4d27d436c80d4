"""The rules of generations and tasks that need no database (utter/services/generate.py,
tasks.py): a generation request's and a design preview's checks, refused with plain domain
errors in the order clients see their messages, with the limits of utter.limits; a task's
`result` left unset until there is one; and services that know nothing of HTTP."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from utter.errors import Invalid
from utter.limits import DESIGN_INSTRUCT_MAX, DESIGN_TEXT_MAX, GENERATION_TEXT_MAX
from utter.services.generate import GenerationRules, check_generation, check_preview
from utter.services.tasks import Task

RULES = GenerationRules(languages=("Auto", "English"), design_languages=("English",))
VOICE = "7d8c3a1e-1111-4111-8111-111111111111"
ROOT = Path(__file__).resolve().parents[2]


def _generation(voice_id: str | None, text: str | None, language: str | None) -> object:
    return check_generation(voice_id, text, language, RULES)


def _preview(text: str | None, instruct: str | None, language: str | None) -> object:
    return check_preview(text, language, instruct, RULES)


@pytest.mark.parametrize(
    ("check", "args", "message"),
    [
        (_generation, (None, None, "Elvish"), "Please select a voice"),
        (_generation, ("nope", None, None), "Invalid voice_id"),
        (_generation, (VOICE, None, "Elvish"), "Please enter text to speak"),
        (
            _generation,
            (VOICE, "x" * (GENERATION_TEXT_MAX + 1), "Elvish"),
            "Text cannot exceed 10000 characters",
        ),
        (_generation, (VOICE, "x", "Elvish"), "Language Elvish is not supported by this server."),
        (_preview, (None, None, None), "Preview text is required."),
        (
            _preview,
            ("x" * (DESIGN_TEXT_MAX + 1), None, None),
            "Preview text must be 500 characters or less.",
        ),
        (_preview, ("x", None, None), "Voice description is required."),
        (
            _preview,
            ("x", "y" * (DESIGN_INSTRUCT_MAX + 1), None),
            "Voice description must be 500 characters or less.",
        ),
        (_preview, ("x", "y", None), "Language is required."),
        (_preview, ("x", "y", "Auto"), "Language Auto is not supported by this server."),
    ],
)
def test_a_request_is_refused_by_its_first_broken_rule(
    check: Callable[..., object], args: tuple[str | None, ...], message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        check(*args)
    assert refused.value.message == message


def test_requests_at_the_limits_are_taken_and_no_language_means_auto() -> None:
    request = check_generation(VOICE, "x" * GENERATION_TEXT_MAX, None, RULES)
    assert (request.voice_id, len(request.text), request.language) == (
        UUID(VOICE),
        GENERATION_TEXT_MAX,
        "Auto",
    )
    preview = check_preview("x" * DESIGN_TEXT_MAX, "English", "y" * DESIGN_INSTRUCT_MAX, RULES)
    assert (len(preview.text), len(preview.instruct), preview.language) == (
        DESIGN_TEXT_MAX,
        DESIGN_INSTRUCT_MAX,
        "English",
    )


def test_a_task_without_a_result_leaves_it_unset() -> None:
    row: dict[str, Any] = {
        "id": VOICE,
        "type": "generate",
        "status": "pending",
        "error": None,
        "modal_poll_count": 0,
        "chunks_done": 0,
        "chunks_total": None,
        "created_at": datetime.now(UTC),
        "completed_at": None,
        "generation_id": None,
        "voice_id": None,
        "metadata": {},
        "result": None,
    }
    unset = Task.from_row(row).model_dump(exclude_unset=True)
    assert "result" not in unset and len(unset) == len(Task.model_fields) - 1
    with_result = Task.from_row({**row, "result": {"object_key": "k"}})
    assert with_result.model_dump(exclude_unset=True)["result"] == {"object_key": "k"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", ["generate", "generations", "tasks", "usage"])
def test_the_service_knows_nothing_of_http(module: str) -> None:
    imported = _imports(ROOT / "utter" / "services" / f"{module}.py")
    assert not {n for n in imported if n == "utter.api" or n.startswith("utter.api.")}
    assert "utter.errors.ApiError" not in imported  # domain errors only
