"""GET /api/limits: the web app's forms check what this server enforces, so the answer is
the rules in utter/limits.py and the reference limits this server was configured with."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import app_settings
from utter import limits
from utter.app import create_app
from utter.cpu import CpuPool
from utter.db import Database


async def test_limits_are_the_text_rules_and_this_servers_reference_limits(
    db: Database, cpu: CpuPool, tmp_path: Path
) -> None:
    settings = app_settings(
        tmp_path / "data", reference_min_seconds=2.5, reference_max_seconds=90.0
    )
    app = create_app(settings, db=db, cpu=cpu)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/api/limits")  # public: no token
    assert response.status_code == 200, response.text
    assert response.json() == {
        "voice_name_max": limits.VOICE_NAME_MAX,
        "voice_description_max": limits.VOICE_DESCRIPTION_MAX,
        "generation_text_max": limits.GENERATION_TEXT_MAX,
        "design_text_max": limits.DESIGN_TEXT_MAX,
        "design_instruct_max": limits.DESIGN_INSTRUCT_MAX,
        "display_name_max": limits.DISPLAY_NAME_MAX,
        "handle_min": limits.HANDLE_MIN,
        "handle_max": limits.HANDLE_MAX,
        "api_key_name_max": limits.API_KEY_NAME_MAX,
        "reference": {"min_seconds": 2.5, "max_seconds": 90.0, "max_bytes": 50 * 1024 * 1024},
    }
