"""Request parsing with the original's leniency, declared as Pydantic models so the
OpenAPI document still describes every body truthfully.

The spec: strings are trimmed; blank or non-string values count as missing; an
id in a path that is not a UUID is simply not found (404), never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict

from utter.errors import ApiError


def _trimmed_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


# A string field that is None when absent, blank, or not a string at all.
Text = Annotated[str | None, BeforeValidator(_trimmed_or_none)]


class Body(BaseModel):
    """Base for JSON bodies: unknown keys are ignored, as the original did."""

    model_config = ConfigDict(extra="ignore")


def parse_id(value: str, not_found: str) -> UUID:
    """A path id as a UUID; anything else is a 404 with the route's own message."""
    try:
        return UUID(value)
    except ValueError:
        raise ApiError(404, not_found) from None


def page_params(page: str | None, per_page: str | None) -> tuple[int, int]:
    """page ≥ 1 (non-numeric → 1, floored), per_page 1..100 (default 20), as the spec."""

    def number(raw: str | None, default: int) -> int:
        try:
            return int(float(raw)) if raw is not None else default
        except ValueError:
            return default

    p = number(page, 1)
    pp = number(per_page, 20)
    return (p if p >= 1 else 1), min(max(pp, 1), 100)


def pagination(page: int, per_page: int, total: int) -> dict[str, int]:
    pages = max(1, -(-total // per_page))
    return {"page": page, "per_page": per_page, "total": total, "pages": pages}
