"""Lenient request parsing, declared as Pydantic models so the OpenAPI document still
describes every body truthfully.

Existing clients send loose bodies, so: strings are trimmed; blank or non-string values
count as missing; an id in a path that is not a UUID is simply not found (404), never a 500.

Postgres cannot store a NUL character, or half of a surrogate pair (JSON can carry both),
in a text column, so every string that could reach the database is refused with a 400 first.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypedDict
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict

from utter.errors import Invalid, NotFound, text_problem

# `page` is clamped here: a bigger one is past any real library, and its offset must stay
# within Postgres' bigint.
MAX_PAGE = 100_000
MAX_PER_PAGE = 100


class FormLimits(TypedDict, total=False):
    """What FastAPI's `form_limits` and Starlette's `request.form()` take."""

    max_files: int
    max_fields: int
    max_part_size: int


# The upload routes' forms: one file (spooled to disk past 1 MB, its size capped at the
# door), a few text fields of at most 1 MB each, so no form holds much in memory.
UPLOAD_FORM_LIMITS: FormLimits = {"max_files": 1, "max_fields": 16, "max_part_size": 1024 * 1024}


def reject_unstorable(*values: object) -> None:
    """Invalid if any of the strings is text Postgres cannot store (a NUL, a lone
    surrogate); non-strings are ignored."""
    for value in values:
        if isinstance(value, str) and (problem := text_problem(value)):
            raise Invalid(problem)


def _trimmed_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    # A domain error (not a ValueError) passes through pydantic untouched, so the refusal is
    # the same 400 whether FastAPI parses the body or a route builds the model from a form.
    reject_unstorable(value)
    value = value.strip()
    return value or None


# A string field that is None when absent, blank, or not a string at all; NUL is a 400.
Text = Annotated[str | None, BeforeValidator(_trimmed_or_none)]


class Body(BaseModel):
    """Base for JSON bodies: unknown keys are ignored, so clients that send more still work."""

    model_config = ConfigDict(extra="ignore")


def parse_id(value: str, not_found: str) -> UUID:
    """A path id as a UUID; anything else is NotFound with the route's own message."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(not_found) from None


def _clamped(raw: str | None, default: int, highest: int) -> int:
    """`raw` as a number floored into 1..highest; missing, non-numeric or NaN → default.
    Huge values and ±infinity land on the nearest end instead of overflowing."""
    try:
        number = float(raw) if raw is not None else math.nan
    except ValueError:
        number = math.nan
    if math.isnan(number):
        return default
    if math.isinf(number):
        return highest if number > 0 else 1
    return min(max(math.floor(number), 1), highest)


def page_params(page: str | None, per_page: str | None) -> tuple[int, int]:
    """page 1..MAX_PAGE (default 1), per_page 1..100 (default 20): lenient, as existing
    clients expect (non-numeric → default, floored, clamped), and never a 500 for huge or
    non-finite values."""
    return _clamped(page, 1, MAX_PAGE), _clamped(per_page, 20, MAX_PER_PAGE)


def pagination(page: int, per_page: int, total: int) -> dict[str, int]:
    pages = max(1, -(-total // per_page))
    return {"page": page, "per_page": per_page, "total": total, "pages": pages}
