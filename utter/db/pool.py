"""The only place that opens database connections.

Two kinds of transaction exist, mirroring Supabase's two clients:

* `as_user(user_id)` runs as role `authenticated` with the JWT claims set, so
  row-level security decides what the caller may see: a forgotten
  `WHERE user_id = …` still cannot leak another user's row.
* `as_service()` runs as role `service_role` (which bypasses RLS) for the
  writes the server owns; handlers call it only after checking ownership.

Both yield a psycopg connection inside a transaction that commits when the
block exits normally and rolls back on an exception. Rows come back as dicts.
A lost database (a broken connection, none to be had in time) leaves a transaction
as `DatabaseUnavailable`, a domain error that says to try again shortly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, LiteralString, TypeVar
from uuid import UUID

from psycopg import AsyncClientCursor, AsyncConnection, OperationalError
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from utter.errors import RETRY_AFTER_SECONDS, Unavailable

Connection = AsyncConnection[DictRow]

# What a lost database looks like from psycopg: a connection that broke, or none to be had
# (PoolTimeout is an OperationalError; named for the reader).
CONNECTION_LOST = (OperationalError, PoolTimeout)


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached now; `Database` raises it for CONNECTION_LOST."""

    def __init__(self) -> None:
        super().__init__(
            "The database is not available right now. Please try again in a moment.",
            retry_after=RETRY_AFTER_SECONDS,
        )


_Opened = TypeVar("_Opened")


class ConditionFailed(Exception):
    """`Database.as_user_if` refused: its condition did not hold; nothing was read."""


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
    """The pool. `timeout` bounds the wait for a connection, so while the database is
    down a caller fails in seconds (the API's 503) instead of hanging."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0
    ) -> None:
        self.url = url
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,
                "connect_timeout": max(2, round(timeout)),
            },
            connection_class=AsyncConnection[DictRow],
            name="utter",
            # Keep trying to reconnect for as long as the process lives.
            reconnect_timeout=365 * 24 * 3600,
        )
        self._checking: asyncio.Task[None] | None = None

    async def open(self, *, wait: bool = True) -> None:
        """Open the pool; with `wait`, fail unless the database answers within 30 s.
        Without, connections are made in the background as the database allows."""
        await self._pool.open(wait=wait, timeout=30)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query now."""
        try:
            async with self._pool.connection() as conn:
                await conn.execute("select 1")
        except CONNECTION_LOST:
            self._drop_dead_connections()
            return False
        return True

    def _drop_dead_connections(self) -> None:
        """After a connection broke, test the idle ones in the background: after a database
        restart every pooled connection is dead, and each would otherwise fail one request."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self._pool.check())

    async def close(self) -> None:
        await self._pool.close()

    def stats(self) -> dict[str, int]:
        """The pool's numbers now (psycopg_pool's get_stats()), for /metrics."""
        return self._pool.get_stats()

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
    async def as_user_if(
        self,
        user_id: UUID | str,
        condition: LiteralString,
        params: Sequence[Any],
        *,
        claims: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Connection]:
        """`as_user`, opened only when `condition` (an SQL boolean with `params`, evaluated as
        the owner role) holds, else `ConditionFailed`. The check and the switch of role are
        one statement, so a caller's per-request check (its session is live) costs no
        transaction or round trip of its own."""
        payload = dict(claims) if claims is not None else user_claims(user_id)
        payload["sub"] = str(user_id)
        opening = (
            # The condition is evaluated before set_config switches the role (the select
            # list is computed left to right), so it may read what only the owner can.
            "select (" + condition + ") as ok,"
            " set_config('request.jwt.claims', %s, true) as c,"
            " set_config('role', 'authenticated', true) as r"
        )
        async with self._transaction_opened_by(opening, (*params, json.dumps(payload))) as (
            conn,
            row,
        ):
            if row is None or not row["ok"]:
                raise ConditionFailed()
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
        async with self._transaction() as conn:
            yield conn

    @asynccontextmanager
    async def _role_transaction(
        self, role: str, claims: Mapping[str, Any]
    ) -> AsyncIterator[Connection]:
        async with self._transaction() as conn:
            # SET LOCAL and set_config(..., true) last only until this transaction ends,
            # so a pooled connection never carries one caller's identity to the next.
            await conn.execute(
                "select set_config('request.jwt.claims', %s, true), set_config('role', %s, true)",
                (json.dumps(claims), role),
            )
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        """A pooled connection in a transaction; a broken one sets off the idle-connection
        check, so what died with the server is not handed to the next caller."""
        try:
            async with AsyncExitStack() as stack:
                yield await self._begin(stack)
        except OperationalError as exc:  # PoolTimeout (no connection in time) is one too
            self._drop_dead_connections()
            raise DatabaseUnavailable() from exc

    @asynccontextmanager
    async def _transaction_opened_by(
        self, query: LiteralString, params: Sequence[Any]
    ) -> AsyncIterator[tuple[Connection, DictRow | None]]:
        """`_transaction` whose BEGIN travels with its first query (and that query's first
        row): one round trip less, for the paths every request takes. The parameters are
        bound here (psycopg's client-side quoting), as a message of two statements takes none."""
        try:
            async with AsyncExitStack() as stack:
                conn, row = await self._begin_with(stack, query, params)
                try:
                    yield conn, row
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
        except OperationalError as exc:
            self._drop_dead_connections()
            raise DatabaseUnavailable() from exc

    async def _begin_with(
        self, stack: AsyncExitStack, query: LiteralString, params: Sequence[Any]
    ) -> tuple[Connection, DictRow | None]:
        """`_begin`, sending BEGIN and `query` as one message."""

        async def opening(conn: Connection, attempt: AsyncExitStack) -> DictRow | None:
            bound = AsyncClientCursor(conn).mogrify(query, params)
            cur = await conn.execute(("begin; " + bound).encode())
            cur.nextset()
            return await cur.fetchone()

        return await self._connect(stack, opening)

    async def _begin(self, stack: AsyncExitStack) -> Connection:
        """Take a connection and BEGIN on it."""

        async def opening(conn: Connection, attempt: AsyncExitStack) -> None:
            await attempt.enter_async_context(conn.transaction())

        conn, _ = await self._connect(stack, opening)
        return conn

    async def _connect(
        self,
        stack: AsyncExitStack,
        opening: Callable[[Connection, AsyncExitStack], Awaitable[_Opened]],
    ) -> tuple[Connection, _Opened]:
        """Take a connection and run `opening` (which begins the transaction) on it, the
        connection's release left on `stack`. After a server restart the idle connections
        are dead and fail at BEGIN, before any work: such a one is thrown away and the next
        is tried, so a restart costs no caller its request (or a worker its job)."""
        for _ in range(self._pool.max_size + 1):
            attempt = AsyncExitStack()
            try:
                conn = await attempt.enter_async_context(self._pool.connection())
                opened = await opening(conn, attempt)
            except PoolTimeout:
                raise  # nothing was entered: no connection came in time, the server is down
            except OperationalError as exc:
                # Handing the error to the pool's context makes it discard the connection.
                await attempt.__aexit__(type(exc), exc, exc.__traceback__)
                self._drop_dead_connections()
                continue
            except BaseException as exc:  # a bad query or a cancel: the connection goes back
                await attempt.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            stack.push_async_exit(attempt)
            return conn, opened
        # Every connection tried was dead: the server is down, not just restarted.
        raise DatabaseUnavailable()
