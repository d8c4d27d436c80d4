"""Personal API keys: the rules for making, listing and revoking them, and the secret's
form.

A key is `sk-utter-` and 43 base64url characters (32 random bytes). It is shown once, in
the answer that made it; the database keeps only its SHA-256 (a secret of 256 random bits
needs no slow hash: nobody can guess one) and its first 16 characters, to tell keys apart.
How a key authenticates a request is `utter.auth.setup.Auth`'s business.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from utter.db import Database
from utter.db.queries import keys as queries
from utter.db.queries.locks import lock_user
from utter.errors import Conflict, Forbidden, Invalid, NotFound
from utter.limits import API_KEY_NAME_MAX

KEY_PREFIX = "sk-utter-"
_SECRET_BYTES = 32
# token_urlsafe(32): 32 bytes in unpadded base64url.
_KEY_PATTERN = re.compile(r"sk-utter-[A-Za-z0-9_-]{43}", re.ASCII)
SHOWN_PREFIX_LENGTH = 16
# Enough for every device and integration a person runs; a bound so no account can fill
# the table.
MAX_KEYS_PER_USER = 50

NAME_RULE = f"Name must be 1-{API_KEY_NAME_MAX} characters."
TOO_MANY = (
    f"You already have {MAX_KEYS_PER_USER} API keys, the most an account may have."
    " Delete one you no longer use to make another."
)
KEY_NOT_FOUND = "API key not found"
SESSION_ONLY = "API keys cannot be made or revoked with an API key. Sign in to do that."


class ApiKey(BaseModel):
    """A key as its owner's list shows it: never the secret."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApiKey:
        return cls.model_validate(row)


class NewApiKey(BaseModel):
    """A key just made, with its secret `key`: the only answer that ever holds it."""

    id: UUID
    name: str
    key: str
    prefix: str
    created_at: datetime


class ApiKeyList(BaseModel):
    keys: list[ApiKey]


def make_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def looks_like_key(token: str) -> bool:
    """Whether a bearer token has an API key's form (not whether the key exists)."""
    return _KEY_PATTERN.fullmatch(token) is not None


def is_key_like(token: str) -> bool:
    """Whether a bearer token is meant as an API key (its `sk-utter-` start), well-formed
    or not: such a token is never tried as a session's access token."""
    return token.startswith(KEY_PREFIX)


def key_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def check_manager(key_id: UUID | None) -> None:
    """Only a signed-in session makes and revokes keys: a key that could mint keys would
    outlive its own revocation, and one that could revoke the others would lock the owner's
    tools out. `key_id`: the key the request came with, None for a session."""
    if key_id is not None:
        raise Forbidden(SESSION_ONLY)


def check_name(name: str | None) -> str:
    """A key's name: required, trimmed (by the body's parsing), at most API_KEY_NAME_MAX."""
    if name is None or not 1 <= len(name) <= API_KEY_NAME_MAX:
        raise Invalid(NAME_RULE)
    return name


async def create_key(db: Database, *, user_id: UUID, name: str | None) -> NewApiKey:
    """Make a key for `user_id`: 409 past MAX_KEYS_PER_USER (counted under the user's lock,
    so two requests at once cannot both slip under it)."""
    checked = check_name(name)
    secret = make_secret()
    async with db.as_service() as conn:
        await lock_user(conn, "api_keys", user_id)
        if await queries.count_keys(conn, user_id) >= MAX_KEYS_PER_USER:
            raise Conflict(TOO_MANY)
        row = await queries.insert_key(
            conn,
            user_id=user_id,
            name=checked,
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            key_hash=key_hash(secret),
        )
    return NewApiKey(
        id=row["id"],
        name=row["name"],
        key=secret,
        prefix=row["prefix"],
        created_at=row["created_at"],
    )


async def list_keys(db: Database, *, user_id: UUID) -> ApiKeyList:
    async with db.as_user(user_id) as conn:
        rows = await queries.list_keys(conn, user_id)
    return ApiKeyList(keys=[ApiKey.from_row(row) for row in rows])


async def delete_key(db: Database, *, user_id: UUID, key_id: UUID) -> None:
    """Revoke a key: it stops working on the next request. NotFound when it is not theirs."""
    async with db.as_service() as conn:
        if not await queries.delete_key(conn, user_id=user_id, key_id=key_id):
            raise NotFound(KEY_NOT_FOUND)
