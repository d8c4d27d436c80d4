"""Every error leaves the API as `{"detail": "<plain words>"}` with the right status.

The one place where a domain error (utter/errors.py) becomes an HTTP status."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utter.db.pool import CONNECTION_LOST, DatabaseUnavailable
from utter.errors import (
    INTERNAL_ERROR,
    NUL_MESSAGE,
    Conflict,
    Failed,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    UnsupportedMedia,
    UpstreamFailed,
    UtterError,
)

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides its status.
HTTP_STATUS: tuple[tuple[type[UtterError], int], ...] = (
    (Invalid, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (UnsupportedMedia, 415),
    (Unprocessable, 422),
    (LimitReached, 429),
    (Failed, 500),
    (UpstreamFailed, 502),
    (Unavailable, 503),
)


def http_status(exc: UtterError) -> int:
    for kind, status in HTTP_STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def http_headers(exc: UtterError) -> dict[str, str] | None:
    if exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    return None


def _describe_validation_error(error: dict[str, Any]) -> str:
    """One plain sentence for the first thing wrong with a request."""
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    where = ".".join(location)
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        return "Invalid JSON body"
    if kind == "missing":
        return f"{where} is required." if where else "A required field is missing."
    message = str(error.get("msg", "is invalid"))
    return f"{where}: {message}" if where else message


def _is_nul_refusal(exc: psycopg.DataError) -> bool:
    """Postgres (or psycopg, before sending) refusing a NUL in text or a `\\u0000` in jsonb."""
    message = str(exc)
    return "NUL" in message or "\\u0000" in message


class UnexpectedErrorMiddleware:
    """Answers an unexpected exception with the plain 500 from inside the app.

    Starlette's outermost ServerErrorMiddleware answers the same, but then re-raises so the
    server sees the error, and the server drops the keep-alive connection with it; answered
    here, the client keeps its connection. Installed innermost, so the 500 still passes the
    other middleware (CORS headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except ClientDisconnect:
            # The client went away (or the body limit already answered it): no one to tell.
            return
        except Exception as exc:
            if started:
                raise
            log.exception("unhandled error", exc_info=exc)
            response = JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)
            await response(scope, receive, send)


def domain_response(exc: UtterError) -> JSONResponse:
    if isinstance(exc, Unavailable) and exc.__cause__ is not None:
        # A dependency went down under a request: the operator's log says which and why.
        log.warning("%s: %r", type(exc).__name__, exc.__cause__)
    return JSONResponse(
        {"detail": exc.message}, status_code=http_status(exc), headers=http_headers(exc)
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UtterError)
    async def _domain_error(_: Request, exc: UtterError) -> JSONResponse:
        return domain_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = _describe_validation_error(errors[0]) if errors else "Invalid request."
        return JSONResponse({"detail": detail}, status_code=400)

    async def _connection_lost(_: Request, exc: Exception) -> JSONResponse:
        # Lost outside `Database` (the job queue's own pool): the same answer as inside.
        unavailable = DatabaseUnavailable()
        unavailable.__cause__ = exc
        return domain_response(unavailable)

    for lost in CONNECTION_LOST:
        app.add_exception_handler(lost, _connection_lost)

    @app.exception_handler(psycopg.DataError)
    async def _data_error(_: Request, exc: psycopg.DataError) -> JSONResponse:
        # A safety net: routes refuse NUL before any write; one that slips through is the
        # client's bad input (400), and its transaction has rolled back.
        if _is_nul_refusal(exc):
            return JSONResponse({"detail": NUL_MESSAGE}, status_code=400)
        log.exception("unhandled database error", exc_info=exc)
        return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)

    # Errors raised outside UnexpectedErrorMiddleware (in outer middleware) still get the
    # plain 500 here, from Starlette's ServerErrorMiddleware.
    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)
