"""GET /metrics (for Prometheus, behind UTTER_METRICS_TOKEN) and the middleware that gives
every request its id and counts it."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utter.db import Database
from utter.logs import bound_request_id, request_id_from
from utter.metrics import CONTENT_TYPE, observe_request, scrape, token_matches
from utter.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

REQUEST_ID_HEADER = "x-request-id"
# The label of a request no route matched: raw paths would put ids (and any junk a
# scanner sends) into the labels.
UNMATCHED = "unmatched"


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text format. 404 while UTTER_METRICS_TOKEN is unset, as if there were no
    such route; 401 without that token as a bearer token."""
    token = request.app.state.settings.metrics_token
    if token is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    if not token_matches(request.headers.get("authorization"), token.get_secret_value()):
        return JSONResponse(
            {"detail": "The metrics need the metrics token as a bearer token."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = await scrape(request.app.state.db)
    return Response(body, media_type=CONTENT_TYPE)


def route_template(scope: Scope) -> str:
    """The matched route's whole path template (`/api/voices/{voice_id}`), never the raw
    path. A route of an included router knows only its own part of the path (`/voices/
    {voice_id}`); the app's OpenAPI paths that end with it and match the request give the
    rest. A route outside the OpenAPI document (docs, storage, the web app) is whole."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return path
    # Per app, by route (routes live as long as their app): the candidate whole templates.
    known: dict[int, list[tuple[re.Pattern[str], str]]] = app.state._state.setdefault(
        "utter_route_templates", {}
    )
    candidates = known.get(id(route))
    if candidates is None:
        templates = app.openapi().get("paths", {})
        candidates = [(compile_path(t)[0], t) for t in templates if t.endswith(path) and t != path]
        known[id(route)] = candidates
    for pattern, template in candidates:
        if pattern.fullmatch(scope.get("path", "")):
            return template
    return path


class RequestMetricsMiddleware:
    """Outermost: binds the request's id (X-Request-ID when sane, else a new one) for every
    log line made while answering it, the access line included, echoes it in the response,
    and counts the request by route template and status class once its body is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = request_id_from(given)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with bound_request_id(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                try:
                    route = route_template(scope)
                    observe_request(scope["method"], route, status, time.perf_counter() - started)
                except Exception:  # counting must never break an answer
                    log.exception("counting a request failed")


# The pool of the worker's metrics port (counted in utter.cli.worker_connections).
WORKER_METRICS_POOL_SIZE = 2


def create_worker_metrics_app(settings: Settings, database_url: str) -> FastAPI:
    """What `utter worker` serves on UTTER_WORKER_METRICS_PORT: the same /metrics, with a
    pool of its own (two connections) for the queue's numbers."""
    db = Database(
        database_url,
        min_size=1,
        max_size=WORKER_METRICS_POOL_SIZE,
        timeout=settings.db_timeout_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await db.open(wait=False)
        try:
            yield
        finally:
            await db.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    app.include_router(router)
    return app
