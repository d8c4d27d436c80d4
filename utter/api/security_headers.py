"""Security headers on every response: a Content-Security-Policy, no framing, no referrer,
no MIME sniffing.

Sessions live in the browser's localStorage, so any script that runs on this origin can take
them: the policy allows scripts from this origin's own files only (no inline script, no eval),
and no one may frame the app (clickjacking). Signed storage URLs carry their token in the query
string, so no page sends a referrer.

Audio is fetched with the bearer token and played from Blob URLs (`blob:`); with the `s3`
backend the fetch follows a redirect to a presigned URL on the storage's origin, which
`connect-src` and `media-src` must then allow. Avatars are pictures on any web address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utter.settings import Settings


def storage_origins(settings: Settings) -> list[str]:
    """The origins a browser may be sent to for stored objects (presigned S3 URLs)."""
    if settings.storage_backend != "s3":
        return []
    if not settings.s3_endpoint_url:
        # AWS: bucket.s3.amazonaws.com, bucket.s3.REGION.amazonaws.com, s3.REGION…/bucket
        return ["https://*.amazonaws.com"]
    parts = urlsplit(settings.s3_endpoint_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if settings.s3_path_style:
        return [origin]
    # Virtual-hosted addressing puts the bucket in front of the endpoint's host.
    return [origin, f"{parts.scheme}://*.{parts.netloc}"]


def content_security_policy(settings: Settings) -> str:
    storage = " ".join(storage_origins(settings))
    extra = f" {storage}" if storage else ""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: https: http:",
        f"media-src 'self' blob:{extra}",
        f"connect-src 'self'{extra}",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


class SecurityHeadersMiddleware:
    """Adds `headers` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
