"""Errors of /auth/v1, shaped as Supabase Auth (GoTrue) shapes them, so its clients read them.

A client that sends `X-Supabase-Api-Version: 2024-01-01` (every current supabase client does)
gets `{"code": "<error_code>", "message": "..."}` and the header echoed back; an older one
gets `{"code": <status>, "error_code": "...", "msg": "..."}`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
_DATE = re.compile(r"^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class AuthApiError(Exception):
    """A refusal by the auth service: HTTP status, GoTrue error code, message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def invalid_credentials() -> AuthApiError:
    # One message for an unknown email and a wrong password: it must not tell which.
    return AuthApiError(400, "invalid_credentials", "Invalid login credentials")


def validation_failed(message: str) -> AuthApiError:
    return AuthApiError(400, "validation_failed", message)


def weak_password(min_length: int) -> AuthApiError:
    return AuthApiError(
        422,
        "weak_password",
        f"Password should be at least {min_length} characters.",
        extra={"weak_password": {"reasons": ["length"]}},
    )


def rate_limited(retry_after: int, *, email: bool) -> AuthApiError:
    if email:
        code, message = "over_email_send_rate_limit", "Email rate limit exceeded"
    else:
        code, message = "over_request_rate_limit", "Request rate limit reached"
    return AuthApiError(429, code, message, headers={"Retry-After": str(retry_after)})


def _speaks_2024(request: Request) -> bool:
    version = request.headers.get(API_VERSION_HEADER, "")
    return bool(_DATE.match(version)) and version >= API_VERSION_2024


def error_response(request: Request, exc: AuthApiError) -> JSONResponse:
    headers = dict(exc.headers)
    body: dict[str, Any]
    if _speaks_2024(request):
        headers[API_VERSION_HEADER] = API_VERSION_2024
        body = {"code": exc.code, "message": exc.message}
    else:
        body = {"code": exc.status, "error_code": exc.code, "msg": exc.message}
    body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=headers)


def install_auth_error_handler(app: FastAPI) -> None:
    @app.exception_handler(AuthApiError)
    async def _auth_error(request: Request, exc: AuthApiError) -> JSONResponse:
        return error_response(request, exc)
