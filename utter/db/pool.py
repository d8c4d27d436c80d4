"""The only place that opens database connections.

Two kinds of transaction exist, mirroring Supabase's two clients:

* `as_user(user_id)` runs as role `authenticated` with the JWT claims set, so
  row-level security decides what the caller may see: a forgotten
  `WHERE user_id = …` still cannot leak another user's row.
* `as_service()` runs as role `service_role` (which bypasses RLS) for the
  writes the server owns; handlers call it only after checking ownership.

Both yield a psycopg connection inside a transaction that commits when the
block exits normally and rolls back on an exception. Rows come back as dicts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

Connection = AsyncConnection[DictRow]


def user_claims(user_id: UUID | str, email: str | None = None) -> dict[str, Any]:
    """The claims a Supabase access token carries that the policies may read."""
    claims: dict[str, Any] = {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"}
    if email is not None:
        claims["email"] = email
    return claims


QUEUE_SEARCH_PATH = "procrastinate"


def queue_connector(url: str, *, max_size: int = 4) -> Any:
    """The job queue's connector: its own small pool, whose sessions find
    procrastinate's unqualified names in the private `procrastinate` schema."""
    from procrastinate import PsycopgConnector

    return PsycopgConnector(
        conninfo=url,
        min_size=1,
        max_size=max_size,
        kwargs={"options": f"-c search_path={QUEUE_SEARCH_PATH}"},
        name="utter-queue",
    )


class Database:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row, "autocommit": True},
            connection_class=AsyncConnection[DictRow],
            name="utter",
        )

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def as_user(
        self, user_id: UUID | str, *, claims: Mapping[str, Any] | None = None
    ) -> AsyncIterator[Connection]:
        """A transaction as `authenticated` with `request.jwt.claims` set for `user_id`."""
        payload = dict(claims) if claims is not None else user_claims(user_id)
        payload["sub"] = str(user_id)
        async with self._role_transaction("authenticated", payload) as conn:
            yield conn

    @asynccontextmanager
    async def as_anon(self) -> AsyncIterator[Connection]:
        """A transaction as `anon` with no claims: what an unauthenticated client could do."""
        async with self._role_transaction("anon", {"role": "anon"}) as conn:
            yield conn

    @asynccontextmanager
    async def as_service(self) -> AsyncIterator[Connection]:
        """A transaction as `service_role`: server-owned writes, after ownership was checked."""
        async with self._role_transaction("service_role", {"role": "service_role"}) as conn:
            yield conn

    @asynccontextmanager
    async def as_owner(self) -> AsyncIterator[Connection]:
        """A transaction as the connecting (owner) role: migrations, tests, admin commands."""
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def _role_transaction(
        self, role: str, claims: Mapping[str, Any]
    ) -> AsyncIterator[Connection]:
        async with self._pool.connection() as conn, conn.transaction():
            # SET LOCAL and set_config(..., true) last only until this transaction ends,
            # so a pooled connection never carries one caller's identity to the next.
            await conn.execute(
                "select set_config('request.jwt.claims', %s, true), set_config('role', %s, true)",
                (json.dumps(claims), role),
            )
            yield conn
