"""Password hashing with Argon2id (argon2-cffi).

Parameters are OWASP's recommended minimum for Argon2id (19 MiB, 2 passes, 1 lane): about
40 ms a hash here, enough to make guessing expensive without making sign-in slow. The
encoded hash carries its own parameters, so raising them later keeps old hashes valid
(and `needs_rehash` upgrades them at the next sign-in). GoTrue verifies `$argon2id$`
hashes too, so accounts move to a hosted Supabase Auth with their passwords.

Hashing is CPU-bound; the async helpers run it in a thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Verified against when the email is unknown, so that answer takes as long as a wrong
# password and timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("utter: no such account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a mismatch, a missing or unreadable hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
