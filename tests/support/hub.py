"""A local server that speaks the Hugging Face hub's download protocol, so the real
huggingface_hub download code (`utter models pull`) runs offline: a repo's revision
info (`/api/models/<repo>/revision/<rev>`, listing its files), then each file under
`/<repo>/resolve/<commit>/<path>` (HEAD for its size and ETag, GET for the bytes,
`Range: bytes=N-` answered with 206 as the hub's CDN does, which is how a cut-off
download resumes). `cut` makes the next GET of a file stop after that many bytes and
drop the connection, as a network that fails half-way would.

    with serve_hub({"Org/repo": {"config.json": b"{}"}}) as hub:
        ... HF_ENDPOINT=hub.url ...
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.support.server import serve_asgi

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RANGE = re.compile(r"bytes=(\d+)-$")


def repo_files(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by its path in a repo ("speech_tokenizer/config.json")."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


class _CutOff:
    """A response that promises `content`'s full length, sends the first `length` bytes
    and then ends the connection without the rest."""

    def __init__(self, content: bytes, length: int, headers: Mapping[str, str]) -> None:
        self.content = content
        self.length = length
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", str(len(self.content)).encode())]
        headers += [(key.lower().encode(), value.encode()) for key, value in self.headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": self.content[: self.length], "more_body": True}
        )
        # Returning with the body unfinished makes uvicorn close the connection.


@dataclass
class Hub:
    url: str = ""
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    commit: str = COMMIT  # what `main` is at, for every repo
    # (method, path, Range header or "") of every request, in order.
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    # File path -> bytes to send before the next GET of it is cut off (once).
    cut: dict[str, int] = field(default_factory=dict)
    # File path -> the size the listing gives for it, when that is not its length.
    listed_size: dict[str, int] = field(default_factory=dict)
    # File path -> bytes sent by GETs of it.
    sent: dict[str, int] = field(default_factory=dict)

    def gets(self, repo: str, path: str) -> list[str]:
        """The Range header ("" for none) of each GET of one file."""
        url = f"/{repo}/resolve/{self.commit}/{path}"
        return [rng for method, at, rng in self.requests if method == "GET" and at == url]

    def _log(self, request: Request) -> None:
        self.requests.append((request.method, request.url.path, request.headers.get("range", "")))

    async def revision(self, request: Request) -> Response:
        self._log(request)
        repo = f"{request.path_params['org']}/{request.path_params['name']}"
        files = self.repos.get(repo)
        if files is None:
            # The hub names the error in a header; its client raises by that name.
            return JSONResponse(
                {"error": "Repository not found"},
                status_code=404,
                headers={"X-Error-Code": "RepoNotFound"},
            )
        siblings = [
            {"rfilename": name, "size": self.listed_size.get(name, len(content))}
            for name, content in files.items()
        ]
        return JSONResponse({"id": repo, "sha": self.commit, "siblings": siblings})

    async def resolve(self, request: Request) -> Response | _CutOff:
        self._log(request)
        repo = f"{request.path_params['org']}/{request.path_params['name']}"
        path = request.path_params["path"]
        content = self.repos.get(repo, {}).get(path)
        if content is None:
            return JSONResponse(
                {"error": "Entry not found"},
                status_code=404,
                headers={"X-Error-Code": "EntryNotFound"},
            )
        headers = {
            "X-Repo-Commit": self.commit,
            "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
            "Accept-Ranges": "bytes",
        }
        if request.method == "HEAD":
            return Response(content, headers=headers, media_type="application/octet-stream")
        if path in self.cut:
            length = self.cut.pop(path)
            self.sent[path] = self.sent.get(path, 0) + length
            return _CutOff(content, length, headers)
        start = 0
        wanted = _RANGE.match(request.headers.get("range", ""))
        if wanted is not None:
            start = int(wanted.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
        self.sent[path] = self.sent.get(path, 0) + len(content) - start
        return Response(
            content[start:],
            status_code=206 if wanted is not None else 200,
            headers=headers,
            media_type="application/octet-stream",
        )


@contextmanager
def serve_hub(repos: dict[str, dict[str, bytes]]) -> Iterator[Hub]:
    """A Hub serving `repos` (repo id -> path -> content) on a free local port."""
    hub = Hub(repos=repos)

    def make_app(url: str) -> Starlette:
        hub.url = url
        return Starlette(
            routes=[
                Route("/api/models/{org}/{name}/revision/{revision}", hub.revision),
                Route(
                    "/{org}/{name}/resolve/{revision}/{path:path}",
                    hub.resolve,
                    methods=["GET", "HEAD"],
                ),
            ]
        )

    with serve_asgi(make_app, lifespan="off"):
        yield hub


def run_pull(hub_url: str, hf_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`utter models pull <args>` in a subprocess, fetching from `hub_url` (HF_ENDPOINT),
    with none of this environment's hub or Utter settings."""
    root = Path(__file__).resolve().parents[2]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGINGFACE_", "UTTER_"))
    }
    env.update(
        HF_ENDPOINT=hub_url,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(root),
    )
    return subprocess.run(
        [sys.executable, "-m", "utter.cli", "models", "pull", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
