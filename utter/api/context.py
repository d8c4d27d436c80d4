"""What the routes share beyond the database: storage, the queue, transcription, and the
rules derived from the configured engine (which languages exist, the clone limits)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import procrastinate
from fastapi import Depends, Request

from utter.cpu import CpuPool
from utter.engines.base import Capabilities
from utter.services.generate import GenerationRules
from utter.services.voices import CloneRules
from utter.settings import Settings
from utter.storage import Storage
from utter.transcription import Transcriber


@dataclass
class Studio:
    storage: Storage
    queue: procrastinate.App
    transcriber: Transcriber
    engine: Capabilities
    clone_rules: CloneRules
    generation_rules: GenerationRules
    # CPU-heavy request work (analysis, transcription, transcoding) runs in these processes.
    cpu: CpuPool


async def get_studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def _with_port(host: str, scheme: str) -> str:
    """`host[:port]` lower-cased, with the scheme's default port when none is given (clients
    leave it out of Host)."""
    host = host.strip().lower()
    if host and ":" not in host.rsplit("]", 1)[-1]:
        host += ":443" if scheme == "https" else ":80"
    return host


async def public_base_url(request: Request) -> str:
    """The base for signed URLs we hand back: PUBLIC_URL; else where this request's client
    reached us, when its Host is one we answer to (UTTER_ALLOWED_HOSTS). A forged Host would
    otherwise put an attacker's site into the URLs (and the tokens) we hand out."""
    settings: Settings = request.app.state.settings
    if settings.public_url:
        return str(settings.public_url).rstrip("/")
    scheme = request.url.scheme
    host = _with_port(request.headers.get("host", ""), scheme)
    if host and host in {_with_port(h, scheme) for h in settings.allowed_host_list}:
        return str(request.base_url).rstrip("/")
    return settings.base_url


StudioDep = Annotated[Studio, Depends(get_studio)]
BaseUrl = Annotated[str, Depends(public_base_url)]
