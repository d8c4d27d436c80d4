"""Saving a designed voice from an uploaded preview (the multipart form): the voice's own
rules apply to it as to a clone, and a refusal stores nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_clone import owned_state
from tests.support import audio
from tests.support.api import sign_up
from utter.db import Database
from utter.limits import VOICE_DESCRIPTION_MAX, VOICE_NAME_MAX

FORM = {"name": "Designed", "text": audio.SENTENCES[1], "language": "English"}


@pytest.fixture(scope="module")
def preview() -> bytes:
    return audio.encode(audio.speech(audio.SENTENCES[1]), "wav")


async def _save(
    client: httpx.AsyncClient, headers: dict[str, str], preview: bytes, **form: str
) -> httpx.Response:
    return await client.post(
        "/api/voices/design",
        data={**FORM, "instruct": "A calm voice.", **form},
        files={"audio": ("preview.wav", preview, "audio/wav")},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("form", "detail"),
    [
        (
            {"instruct": "d" * (VOICE_DESCRIPTION_MAX + 1)},
            "Description must be 1000 characters or less.",
        ),
        ({"name": "n" * (VOICE_NAME_MAX + 1)}, "Name must be 1-100 characters."),
    ],
)
async def test_the_voice_rules_refuse_an_uploaded_design_and_store_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    preview: bytes,
    form: dict[str, str],
    detail: str,
) -> None:
    user = await sign_up(client)
    response = await _save(client, user.headers, preview, **form)
    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert await owned_state(app, db, user) == {"voices": [], "objects": [], "files": []}


async def test_an_uploaded_design_within_the_rules_is_saved(
    client: httpx.AsyncClient, preview: bytes
) -> None:
    user = await sign_up(client)
    longest = "d" * VOICE_DESCRIPTION_MAX
    response = await _save(client, user.headers, preview, instruct=longest)
    assert response.status_code == 200, response.text
    voice = response.json()
    assert set(voice) == {
        "id",
        "name",
        "description",
        "language",
        "source",
        "preview_url",
        "report",
    }
    assert (voice["name"], voice["description"], voice["source"]) == (
        "Designed",
        longest,
        "designed",
    )
    assert (await client.get(voice["preview_url"])).status_code == 200
