"""CORS headers on every response, as Utter's existing clients expect them.

Starlette's CORSMiddleware answers an origin that is not allowed with no header at all;
Utter has always answered with the first allowed origin instead, and every preflight with
204, and clients built against it rely on that. This small middleware keeps that contract:

* `Access-Control-Allow-Origin` is `*` when the allow-list contains `*` (or is empty),
  else the request's Origin when listed, else the list's first entry; `Vary: Origin`
  whenever it is not `*`;
* fixed allow-headers, allow-methods and max-age;
* any OPTIONS request is answered 204 here, without reaching a route.

Under /auth/v1, Supabase's clients also send `X-Supabase-Api-Version`, so it is allowed there.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_HEADERS = "authorization, x-client-info, apikey, content-type"
AUTH_ALLOW_HEADERS = ALLOW_HEADERS + ", x-supabase-api-version"
ALLOW_METHODS = "GET, POST, PUT, DELETE, PATCH, OPTIONS"
MAX_AGE = "86400"


def parse_origins(value: str) -> list[str]:
    return [origin.strip() for origin in value.split(",") if origin.strip()]


class CorsMiddleware:
    def __init__(self, app: ASGIApp, allowed_origins: str = "*") -> None:
        self.app = app
        self.origins = parse_origins(allowed_origins)

    def allow_origin(self, origin: str | None) -> str:
        if not self.origins or "*" in self.origins:
            return "*"
        if origin in self.origins:
            return origin
        return self.origins[0]

    def headers_for(self, scope: Scope) -> dict[str, str]:
        allow_origin = self.allow_origin(Headers(scope=scope).get("origin"))
        path: str = scope.get("path", "")
        headers = {
            "Access-Control-Allow-Origin": allow_origin,
            "Access-Control-Allow-Headers": (
                AUTH_ALLOW_HEADERS if path.startswith("/auth/v1") else ALLOW_HEADERS
            ),
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Max-Age": MAX_AGE,
        }
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cors = self.headers_for(scope)
        varies = cors["Access-Control-Allow-Origin"] != "*"
        if scope["method"] == "OPTIONS":
            response = Response(status_code=204, headers=cors)
            if varies:
                response.headers.add_vary_header("Origin")
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in cors.items():
                    headers[name] = value
                if varies:
                    headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)
