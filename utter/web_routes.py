"""Serves the web app (the static files in `utter/web/`) from the API's own server.

The app is a single page: every GET that is not for the API, auth, storage, the
API docs or a static asset is answered with `index.html`, and the browser's
router shows the right page. So deep links and reloads work, while an unknown
`/api/...` (or OpenAI dialect `/v1/...`) path still gets the API's JSON 404.

There is no build step and file names carry no content hash, so nothing may be
cached blindly: `index.html` is always revalidated, assets are cached but
revalidated by ETag (a 304 costs one round trip and no body).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).parent / "web"
ASSETS_PREFIX = "/assets"

# Paths the single-page fallback never answers: they belong to the server's own routes,
# and an unknown path under them must stay a real 404 rather than the app's HTML.
# (`/auth` itself is the app's sign-in page; the auth server lives under `/auth/v1`.)
RESERVED_PREFIXES = ("/api", "/v1", "/auth/v1", "/storage", "/docs", "/redoc", ASSETS_PREFIX)
RESERVED_PATHS = ("/openapi.json", "/favicon.ico")

NO_CACHE = "no-cache"


def is_reserved(path: str) -> bool:
    """True for paths the server owns; the web app's router never sees them."""
    if path in RESERVED_PATHS:
        return True
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES)


class _Assets(StaticFiles):
    """Static files that tell the browser to revalidate before reusing a copy."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = NO_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def index_response(web_dir: Path = WEB_DIR) -> FileResponse:
    return FileResponse(
        web_dir / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": NO_CACHE, "X-Content-Type-Options": "nosniff"},
    )


def install_web_app(app: FastAPI, web_dir: Path = WEB_DIR) -> None:
    """Mount the assets and the single-page fallback. Call it after every router is
    included: the fallback is a catch-all, and routes are matched in order."""
    app.mount(ASSETS_PREFIX, _Assets(directory=web_dir / "assets"), name="web-assets")

    async def single_page(request: Request) -> Response:
        return index_response(web_dir)

    app.router.routes.append(
        _SinglePageRoute(
            "/{path:path}", single_page, methods=["GET", "HEAD"], include_in_schema=False
        )
    )


class _SinglePageRoute(Route):
    """The fallback never even matches a server path, so an unknown `/api/...` URL gets
    the framework's JSON 404 for every method (not a 405 from this GET-only route)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and is_reserved(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)
