"""Errors of /auth/v1, shaped as Supabase Auth (GoTrue) shapes them, so its clients read them.

The auth service raises the domain errors of `utter.errors`, with GoTrue's error code in
`code`; the status is the one `utter.api.errors` gives that kind everywhere. The /auth/v1
routes answer them here (`GoTrueRoute`), in one of GoTrue's two body shapes: a client that
sends `X-Supabase-Api-Version: 2024-01-01` (every current supabase client does) gets
`{"code": "<error_code>", "message": "..."}` and the header echoed back; an older one gets
`{"code": <status>, "error_code": "...", "msg": "..."}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from utter.api.errors import http_headers, http_status
from utter.errors import Invalid, LimitReached, Unavailable, Unprocessable, UtterError

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
_DATE = re.compile(r"^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
# What GoTrue calls an error it has no code for.
UNEXPECTED_FAILURE = "unexpected_failure"


class WeakPassword(Unprocessable):
    """A password that breaks the strength rules; `reasons` says which (GoTrue lists them
    in the answer, and its clients raise their own error class for it)."""

    def __init__(self, message: str, *, reasons: list[str]) -> None:
        super().__init__(message, code="weak_password")
        self.reasons = reasons


def invalid_credentials() -> Invalid:
    # One message for an unknown email and a wrong password: it must not tell which.
    return Invalid("Invalid login credentials", code="invalid_credentials")


def validation_failed(message: str) -> Invalid:
    return Invalid(message, code="validation_failed")


def weak_password(min_length: int) -> WeakPassword:
    return WeakPassword(f"Password should be at least {min_length} characters.", reasons=["length"])


def rate_limited(retry_after: int, *, email: bool) -> LimitReached:
    if email:
        code, message = "over_email_send_rate_limit", "Email rate limit exceeded"
    else:
        code, message = "over_request_rate_limit", "Request rate limit reached"
    return LimitReached(message, code=code, retry_after=retry_after)


def _speaks_2024(request: Request) -> bool:
    version = request.headers.get(API_VERSION_HEADER, "")
    return bool(_DATE.match(version)) and version >= API_VERSION_2024


def gotrue_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """An error answer in the shape the client asked for."""
    answer_headers = dict(headers or {})
    body: dict[str, Any]
    if _speaks_2024(request):
        answer_headers[API_VERSION_HEADER] = API_VERSION_2024
        body = {"code": code, "message": message}
    else:
        body = {"code": status, "error_code": code, "msg": message}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=answer_headers)


def error_response(request: Request, exc: UtterError) -> JSONResponse:
    extra = {"weak_password": {"reasons": exc.reasons}} if isinstance(exc, WeakPassword) else None
    return gotrue_response(
        request,
        http_status(exc),
        exc.code or UNEXPECTED_FAILURE,
        exc.message,
        headers=http_headers(exc),
        extra=extra,
    )


class GoTrueRoute(APIRoute):
    """A /auth/v1 route: domain errors from the route or its dependencies are answered in
    GoTrue's shapes. Everything else (a database that is down, a validation error) goes on
    to the app's common handlers, as on every other route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def gotrue_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Unavailable:
                # Auth never refuses with an outage of its own; a lost database or CPU
                # pool gets the common 503 `{"detail"}` answer with its Retry-After.
                raise
            except UtterError as exc:
                return error_response(request, exc)

        return gotrue_handler
