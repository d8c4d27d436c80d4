"""The door every request passes before any route runs: a body within its route's limit,
and no NUL character in the query string.

A body over the limit is refused with 413 from its `Content-Length` before a byte of it is
read, or, when it is sent without one (chunked), as soon as the bytes counted pass the
limit; the route then sees the client as gone, and whatever it answers is dropped. So no
route ever buffers, spools or stores more than the limit.

Limits by route: the three upload routes get the upload limit plus room for the multipart
framing and the form's text fields; every other body gets the small JSON limit. Signed
uploads to /storage/v1 are left alone: they count their own bytes while streaming to disk
against the bucket's limit.

A NUL in a query string is refused with 400 here too, for every route at once: Postgres
cannot store NUL in text, and query values (search, status, redirect_to …) reach it.

Refusals under /auth/v1 are in GoTrue's error shape (its clients read that); elsewhere
`{"detail": "..."}`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utter.audio.validate import say_bytes
from utter.auth.errors import gotrue_response
from utter.errors import NUL_MESSAGE

UPLOAD_ROUTES = frozenset({"/api/clone", "/api/transcriptions", "/api/voices/design"})
# Multipart boundaries, part headers and the text fields next to the file.
MULTIPART_ALLOWANCE = 1024 * 1024
UNLIMITED_PREFIXES = ("/storage/",)
AUTH_PREFIX = "/auth/v1"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, upload_bytes: int, json_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes

    def limit_for(self, scope: Scope) -> int | None:
        """The most body bytes the route takes (None: the route counts its own)."""
        path: str = scope["path"]
        if path.startswith(UNLIMITED_PREFIXES):
            return None
        if scope["method"] == "POST" and path.rstrip("/") in UPLOAD_ROUTES:
            return self.upload_bytes + MULTIPART_ALLOWANCE
        return self.json_bytes

    def too_large(self, scope: Scope, limit: int) -> Response:
        if scope["path"].rstrip("/") in UPLOAD_ROUTES:
            message = f"The upload is larger than the {say_bytes(self.upload_bytes)} allowed."
        else:
            message = f"The request body is larger than the {say_bytes(limit)} allowed."
        return _refusal(scope, 413, "request_too_large", message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _query_has_nul(scope):
            await _refusal(scope, 400, "validation_failed", NUL_MESSAGE)(scope, receive, send)
            return
        limit = self.limit_for(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self.too_large(scope, limit)(scope, receive, send)
            return

        received = 0
        answered = False
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    answered = True
                    if not response_started:
                        await self.too_large(scope, limit)(scope, receive, send)
                    # What the route does next goes nowhere: to it the client has left.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if answered:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # Once the 413 is out, a route failing on its cut-off body has no one to tell.
            if not answered:
                raise


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _query_has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    if not query:
        return False
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def _refusal(scope: Scope, status: int, auth_code: str, message: str) -> Response:
    path: str = scope["path"]
    if path == AUTH_PREFIX or path.startswith(AUTH_PREFIX + "/"):
        return gotrue_response(Request(scope), status, auth_code, message)
    return JSONResponse({"detail": message}, status_code=status)
