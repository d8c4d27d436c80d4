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


def get_studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def public_base_url(request: Request) -> str:
    """Where this request's client reached us: the base for signed URLs we hand back."""
    settings = request.app.state.settings
    if settings.public_url:
        return str(settings.public_url).rstrip("/")
    return str(request.base_url).rstrip("/")


StudioDep = Annotated[Studio, Depends(get_studio)]
BaseUrl = Annotated[str, Depends(public_base_url)]
