"""Errors in OpenAI's shape on the OpenAI dialect (`/v1`):

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": null}}

The app's own handlers (utter/api/errors.py) still decide every status and message; on a
`/v1` path their `{"detail"}` answer is re-shaped here, so both dialects say the same
thing for the same refusal. The rest of the API keeps `{"detail"}`.

One status differs from /api on /v1: a request refused because the caller already has
as many generations running as allowed (409 on /api) is 429 `rate_limit_exceeded` here,
which OpenAI's clients wait and retry on; everything else keeps its status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.responses import Response

from utter.errors import Conflict, LimitReached, Unauthenticated

PREFIX = "/v1"

Handler = Callable[[Request, Any], Awaitable[Response] | Response]


def error_type(status: int) -> str:
    """OpenAI's `type` for a status."""
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"message": message, "type": error_type(status), "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _is_v1(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def _param_and_code(exc: Exception, status: int) -> tuple[str | None, str | None]:
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        loc = (
            [str(p) for p in errors[0].get("loc", ()) if p not in ("body", "query")]
            if errors
            else []
        )
        return (loc[-1] if loc else None), "invalid_value"
    param = getattr(exc, "param", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, Unauthenticated):
        code = "invalid_api_key"
    elif isinstance(exc, Conflict) and status == 429:
        code = "rate_limit_exceeded"
    elif isinstance(exc, LimitReached):
        code = code or "rate_limit_exceeded"
    return (param if isinstance(param, str) else None), (code if isinstance(code, str) else None)


def reshape(response: Response, exc: Exception) -> Response:
    """The app's `{"detail"}` answer to `exc` in OpenAI's shape, same status and headers."""
    try:
        detail = json.loads(bytes(response.body))["detail"]
    except (ValueError, KeyError, TypeError):
        return response
    status = response.status_code
    if isinstance(exc, Conflict):
        status = 429
    param, code = _param_and_code(exc, status)
    headers = {
        name: value
        for name, value in response.headers.items()
        if name not in ("content-length", "content-type")
    }
    return openai_error(status, str(detail), param=param, code=code, headers=headers)


def _dialect(handler: Handler) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handle(request: Request, exc: Any) -> Response:
        answer = handler(request, exc)
        response = await answer if isinstance(answer, Awaitable) else answer
        return reshape(response, exc) if _is_v1(request) else response

    return handle


def install_openai_errors(app: FastAPI) -> None:
    """Wrap every error handler installed so far so that /v1 answers in OpenAI's shape.
    Call it after the other handlers are installed."""
    for kind, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _dialect(handler))
