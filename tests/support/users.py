"""Users made directly in the database, for tests below the HTTP layer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from utter.db import Database


@dataclass(frozen=True)
class DbUser:
    id: uuid.UUID
    email: str


async def make_user(db: Database, email: str | None = None) -> DbUser:
    user_id = uuid.uuid4()
    email = email or f"user-{user_id.hex[:12]}@example.test"
    async with db.as_owner() as conn:
        await conn.execute(
            "insert into auth.users (id, aud, role, email) values (%s, 'authenticated',"
            " 'authenticated', %s)",
            (user_id, email),
        )
    return DbUser(user_id, email)
