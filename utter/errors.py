"""Every error leaves the API as `{"detail": "<plain words>"}` with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from utter.cpu import CpuUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by business rules; the handler turns it into `{"detail": message}`."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


# How long a client should wait before retrying while a dependency is down: long enough
# for the embedded database to be restarted, short enough that nobody waits for nothing.
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = "The database is not available right now. Please try again in a moment."
CPU_DOWN = "The server could not process the audio just now. Please try again."


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = _describe_validation_error(errors[0]) if errors else "Invalid request."
        return JSONResponse({"detail": detail}, status_code=400)

    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": DATABASE_DOWN},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _database_down)

    @app.exception_handler(CpuUnavailable)
    async def _cpu_down(_: Request, exc: CpuUnavailable) -> JSONResponse:
        return JSONResponse({"detail": CPU_DOWN}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "Internal server error."}, status_code=500)
