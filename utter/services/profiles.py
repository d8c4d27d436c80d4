"""Profiles: reading one (creating it when the signup trigger did not), the rules of
PATCH /api/profile, and the account's usage.

Reads run as the user under RLS; the writes, which clients may not make themselves
(UPDATE on profiles is revoked from `authenticated`), run as the service role. Database
errors are not caught here: the API's common handlers answer them (503 while the database
is down), as on every other route.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from psycopg import errors as pg_errors

from utter.db import Database
from utter.db.queries import profiles as queries
from utter.errors import Failed, Invalid, text_problem
from utter.limits import DISPLAY_NAME_MAX, HANDLE_MAX, HANDLE_MIN, HANDLE_PATTERN
from utter.services import usage as usage_service
from utter.services.usage import UsageLimits

HANDLE_MESSAGE = (
    f"Handle must be {HANDLE_MIN}-{HANDLE_MAX} chars and use only letters, numbers, "
    "and underscores."
)
DISPLAY_NAME_MESSAGE = f"Display name must be 1-{DISPLAY_NAME_MAX} characters."
AVATAR_MESSAGE = "Avatar URL must be a valid URL or null."
NOTHING_MESSAGE = "No valid fields to update."
TAKEN_MESSAGE = "Handle is already taken."
# The account was deleted while the request ran: there is nothing to attach a profile to.
CREATE_FAILED = "Failed to create profile."
# Browsers and proxies commonly stop at about this length; an avatar needs no more.
MAX_URL_LENGTH = 2048


def _field(body: dict[str, Any], key: str, invalid: str) -> tuple[bool, str | None]:
    """(present, value): absent → (False, None); null or blank → (True, None); a string →
    (True, trimmed); anything else → Invalid with the field's message."""
    if key not in body:
        return False, None
    value = body[key]
    if value is None:
        return True, None
    if not isinstance(value, str):
        raise Invalid(invalid)
    if problem := text_problem(value):
        raise Invalid(problem)
    return True, value.strip() or None


def _is_web_url(value: str) -> bool:
    # Only http(s): a `javascript:` or `data:` avatar would run or smuggle content in the
    # pages that show it.
    if len(value) > MAX_URL_LENGTH or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


_RULES = (
    ("handle", HANDLE_MESSAGE, lambda v: HANDLE_PATTERN.fullmatch(v) is not None),
    ("display_name", DISPLAY_NAME_MESSAGE, lambda v: 1 <= len(v) <= DISPLAY_NAME_MAX),
    ("avatar_url", AVATAR_MESSAGE, _is_web_url),
)


def parse_profile_update(body: Any) -> dict[str, str | None]:
    """The columns a PATCH /api/profile body changes, checked in a fixed order (handle,
    display name, avatar: a body with several faults always names the same one); other
    keys (tier, credits, …) are ignored."""
    if not isinstance(body, dict):
        raise Invalid("Invalid JSON body")
    changes: dict[str, str | None] = {}
    for column, message, valid in _RULES:
        present, value = _field(body, column, message)
        if value is not None and not valid(value):
            raise Invalid(message)
        if present:
            changes[column] = value
    if not changes:
        raise Invalid(NOTHING_MESSAGE)
    return changes


async def load_profile(db: Database, user_id: UUID) -> dict[str, Any]:
    """The user's profile, created on the spot if the signup trigger left none."""
    async with db.as_user(user_id) as conn:
        profile = await queries.get(conn, user_id)
    if profile is not None:
        return profile
    try:
        async with db.as_service() as conn:
            profile = await queries.create(conn, user_id)
    except pg_errors.ForeignKeyViolation as exc:
        raise Failed(CREATE_FAILED) from exc
    if profile is None:
        raise Failed(CREATE_FAILED)
    return profile


async def update_profile(
    db: Database, user_id: UUID, changes: dict[str, str | None]
) -> dict[str, Any]:
    try:
        async with db.as_service() as conn:
            profile = await queries.update(conn, user_id, changes)
    except pg_errors.UniqueViolation as exc:
        raise Invalid(TAKEN_MESSAGE) from exc
    if profile is None:
        # No row to change: the account was deleted while this request ran, or its profile
        # was never made (GET /api/me makes a missing one).
        raise Failed("Failed to update profile.")
    return profile


async def usage(db: Database, user_id: UUID, limits: UsageLimits) -> dict[str, Any]:
    async with db.as_user(user_id) as conn:
        row = await queries.usage(conn, user_id)
    return {
        "voices": int(row["voices"]),
        "generations": int(row["generations"]),
        "generated_seconds": float(row["generated_seconds"]),
        "daily": await usage_service.today(db, user_id, limits),
    }
