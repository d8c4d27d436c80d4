"""Profiles (spec §2.3): reading one (creating it when the signup trigger did not),
the rules of PATCH /api/profile, and the account's usage.

Reads run as the user under RLS; the writes, which clients may not make themselves
(UPDATE on profiles is revoked from `authenticated`), run as the service role.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
from psycopg import errors as pg_errors

from utter.db import Database
from utter.db.queries import profiles as queries
from utter.errors import ApiError, bad_request, text_problem
from utter.services import usage as usage_service
from utter.services.usage import UsageLimits

HANDLE = re.compile(r"[A-Za-z0-9_]{3,30}", re.ASCII)
HANDLE_MESSAGE = "Handle must be 3-30 chars and use only letters, numbers, and underscores."
DISPLAY_NAME_MESSAGE = "Display name must be 1-100 characters."
AVATAR_MESSAGE = "Avatar URL must be a valid URL or null."
NOTHING_MESSAGE = "No valid fields to update."
MAX_URL_LENGTH = 2048


def _field(body: dict[str, Any], key: str, invalid: str) -> tuple[bool, str | None]:
    """(present, value): absent → (False, None); null or blank → (True, None); a string →
    (True, trimmed); anything else → 400 with the field's message."""
    if key not in body:
        return False, None
    value = body[key]
    if value is None:
        return True, None
    if not isinstance(value, str):
        raise bad_request(invalid)
    if problem := text_problem(value):
        raise bad_request(problem)
    return True, value.strip() or None


def _is_web_url(value: str) -> bool:
    # §9.1.12: the original accepted any scheme (javascript:, data:); only http(s) now.
    if len(value) > MAX_URL_LENGTH or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


_RULES = (
    ("handle", HANDLE_MESSAGE, lambda v: HANDLE.fullmatch(v) is not None),
    ("display_name", DISPLAY_NAME_MESSAGE, lambda v: 1 <= len(v) <= 100),
    ("avatar_url", AVATAR_MESSAGE, _is_web_url),
)


def parse_profile_update(body: Any) -> dict[str, str | None]:
    """The columns a PATCH /api/profile body changes, checked in the spec's order; other
    keys (tier, credits, …) are ignored."""
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON body")
    changes: dict[str, str | None] = {}
    for column, message, valid in _RULES:
        present, value = _field(body, column, message)
        if value is not None and not valid(value):
            raise bad_request(message)
        if present:
            changes[column] = value
    if not changes:
        raise bad_request(NOTHING_MESSAGE)
    return changes


async def load_profile(db: Database, user_id: UUID) -> dict[str, Any]:
    """The user's profile, created on the spot if the signup trigger left none."""
    try:
        async with db.as_user(user_id) as conn:
            profile = await queries.get(conn, user_id)
    except psycopg.Error as exc:
        raise ApiError(500, "Failed to load profile.") from exc
    if profile is not None:
        return profile
    try:
        async with db.as_service() as conn:
            profile = await queries.create(conn, user_id)
    except psycopg.Error as exc:
        raise ApiError(500, "Failed to create profile.") from exc
    if profile is None:
        raise ApiError(500, "Failed to create profile.")
    return profile


async def update_profile(
    db: Database, user_id: UUID, changes: dict[str, str | None]
) -> dict[str, Any]:
    try:
        async with db.as_service() as conn:
            profile = await queries.update(conn, user_id, changes)
    except pg_errors.UniqueViolation as exc:
        raise bad_request("Handle is already taken.") from exc
    except psycopg.Error as exc:
        raise ApiError(500, "Failed to update profile.") from exc
    if profile is None:
        raise ApiError(500, "Failed to update profile.")
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
