"""A real S3-protocol server in the test process: moto's server mode, plus the checks S3 makes
on presigned URLs that moto leaves out.

moto answers every S3 call a real store does, but it accepts a presigned URL without
checking its signature or its expiry (it is a mock of S3's data plane, not of its auth).
Utter's `s3` backend relies on exactly those checks, so the server here wraps moto's WSGI
app in `PresignedUrlChecks`: for every request signed in its query string, it re-derives
the SigV4 signature with botocore from what actually arrived (method, path, query, the
signed headers) and refuses an expired or altered URL as S3 does (403 AccessDenied /
SignatureDoesNotMatch). Requests signed in the Authorization header (boto3's own calls)
pass through.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY_ID = "utter-test-key"
SECRET_ACCESS_KEY = "utter-test-secret"
REGION = "us-east-1"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]


class PresignedUrlChecks:
    def __init__(self, app: Any, credentials: Credentials, region: str) -> None:
        self.app = app
        self.credentials = credentials
        self.region = region

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if "X-Amz-Signature" in params:
            refusal = self.refusal(environ, params)
            if refusal is not None:
                code, message = refusal
                body = (
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error>"
                ).encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        result: Iterable[bytes] = self.app(environ, start_response)
        return result

    def refusal(self, environ: Environ, params: dict[str, list[str]]) -> tuple[str, str] | None:
        try:
            amz_date = params["X-Amz-Date"][0]
            expires = int(params["X-Amz-Expires"][0])
            signed_headers = params["X-Amz-SignedHeaders"][0].split(";")
            signature = params["X-Amz-Signature"][0]
        except (KeyError, ValueError):
            return "AccessDenied", "Query-string authentication requires the X-Amz-* parameters"
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            return "AccessDenied", "Request has expired"
        if not hmac.compare_digest(signature, self.expected_signature(environ, signed_headers)):
            return "SignatureDoesNotMatch", "The request signature we calculated does not match"
        return None

    def expected_signature(self, environ: Environ, signed_headers: list[str]) -> str:
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        raw_path = raw_uri.split("?", 1)[0]
        query = "&".join(
            part
            for part in environ.get("QUERY_STRING", "").split("&")
            if not part.startswith("X-Amz-Signature=")
        )
        headers = {name: _header(environ, name) for name in signed_headers}
        request = AWSRequest(
            method=environ["REQUEST_METHOD"],
            url=f"http://{environ['HTTP_HOST']}{raw_path}?{query}",
            headers={k: v for k, v in headers.items() if v is not None},
        )
        params = parse_qs(query)
        auth = S3SigV4QueryAuth(
            self.credentials, "s3", self.region, expires=int(params["X-Amz-Expires"][0])
        )
        request.context["timestamp"] = params["X-Amz-Date"][0]
        canonical = auth.canonical_request(request)
        return str(auth.signature(auth.string_to_sign(request, canonical), request))


def _header(environ: Environ, name: str) -> str | None:
    if name == "host":
        return str(environ.get("HTTP_HOST"))
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return str(value) if value is not None else None


class S3TestServer(ThreadedMotoServer):
    """moto on a free port of 127.0.0.1, behind `PresignedUrlChecks`."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)

    def _server_entry(self) -> None:
        # ThreadedMotoServer's own entry, with the app wrapped.
        app = PresignedUrlChecks(
            DomainDispatcherApplication(create_backend_app),
            Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
            REGION,
        )
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def client(self) -> S3Client:
        """A boto3 client of this server, with the test credentials (path-style addressing)."""
        from utter.storage.s3 import create_s3_client

        return create_s3_client(
            endpoint_url=self.url,
            region=REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            path_style=True,
        )
