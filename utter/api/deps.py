"""Dependencies shared by the routers: the settings, the database, and who is asking.

A route that needs a signed-in user takes `user: CurrentUser` and then reads through
`db.as_user(user.id)`, so row-level security scopes every query to that user:

* no `Authorization` header → 401 `Missing authorization header`;
* a header whose token is malformed, forged, expired, for another audience, or whose
  session was ended by logout → 401 `Invalid or expired token`.

`OptionalUser` is None in both cases instead (GET /api/me answers `signed_in: false`).

A hot read route (the task poll every open tab repeats) takes `caller: Caller` instead and
reads through `caller.transaction()`: the token is checked at once, its session in the
first statement of that transaction, so authenticating and reading share one transaction.
The 401s are the same, and a logged-out session is refused before anything is read.

Every dependency here is `async def`: a plain `def` one would cost each request a hop
through the threadpool for what is an attribute lookup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from utter.auth.models import AuthUser
from utter.auth.setup import Auth
from utter.db import Connection, Database
from utter.db.pool import ConditionFailed
from utter.errors import Unauthenticated
from utter.settings import Settings

REFUSED = "Invalid or expired token"


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Declared so /openapi.json and /docs show which routes take a bearer token; the header is
# read below, because clients tell a missing token from a bad one by the message, and
# HTTPBearer cannot.
_bearer = HTTPBearer(
    auto_error=False, description="An access token from /auth/v1, or a personal API key."
)
_BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def optional_user(request: Request, _doc: _BearerDoc) -> AuthUser | None:
    header = request.headers.get("authorization", "").strip()
    if not header:
        return None
    auth: Auth = request.app.state.auth
    return await auth.user_for(header)


def _required_header(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    if not header:
        raise Unauthenticated("Missing authorization header")
    return header


def _known(user: AuthUser | None) -> AuthUser:
    if user is None:
        raise Unauthenticated(REFUSED)
    return user


async def current_user(request: Request, _doc: _BearerDoc) -> AuthUser:
    header = _required_header(request)
    auth: Auth = request.app.state.auth
    return _known(await auth.user_for(header))


@dataclass(frozen=True)
class UserScope:
    """A caller whose token checked out; its session is checked by `transaction`."""

    user: AuthUser
    db: Database
    auth: Auth

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction under RLS as the caller; 401 `Invalid or expired token` when its
        session has ended (logout), before anything is read."""
        async with AsyncExitStack() as stack:
            try:
                conn = await stack.enter_async_context(self.auth.transaction(self.db, self.user))
            except ConditionFailed:
                raise Unauthenticated(REFUSED) from None
            yield conn


async def user_scope(request: Request, _doc: _BearerDoc) -> UserScope:
    header = _required_header(request)
    auth: Auth = request.app.state.auth
    user = _known(await auth.token_user(header))
    return UserScope(user=user, db=request.app.state.db, auth=auth)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
CurrentUser = Annotated[AuthUser, Depends(current_user)]
OptionalUser = Annotated[AuthUser | None, Depends(optional_user)]
Caller = Annotated[UserScope, Depends(user_scope)]
