"""POST /api/generate's optional `speed`: a number from 0.25 to 4.0, else a plain 400;
bodies without it are answered as before."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.api import sign_up

RULE = "Speed must be a number from 0.25 to 4.0."


@pytest.mark.parametrize("speed", ["fast", "1.5", True, 0.2, 4.01, 0, -1, [1], {"x": 1}])
async def test_a_speed_that_is_not_a_number_in_range_is_a_plain_400(
    client: httpx.AsyncClient, speed: object
) -> None:
    user = await sign_up(client)
    response = await client.post(
        "/api/generate",
        json={"voice_id": str(uuid.uuid4()), "text": "Hello.", "speed": speed},
        headers=user.headers,
    )
    assert (response.status_code, response.json()) == (400, {"detail": RULE})


@pytest.mark.parametrize("speed", [0.25, 1, 2.5, 4.0, None])
async def test_a_speed_in_range_or_none_passes_to_the_next_rule(
    client: httpx.AsyncClient, speed: object
) -> None:
    user = await sign_up(client)
    body: dict[str, object] = {"voice_id": str(uuid.uuid4()), "text": "Hello."}
    if speed is not None:
        body["speed"] = speed
    response = await client.post("/api/generate", json=body, headers=user.headers)
    # The unknown voice is what is refused, as it was before speed existed.
    assert (response.status_code, response.json()) == (404, {"detail": "Voice not found"})
