"""GET /api/me, PATCH /api/profile and GET /api/usage."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import ApiUser, sign_up
from tests.support.postgres import free_port
from utter.db import Database
from utter.db.pool import DatabaseUnavailable
from utter.errors import Invalid
from utter.services import profiles
from utter.services.profiles import parse_profile_update

HANDLE_MESSAGE = "Handle must be 3-30 chars and use only letters, numbers, and underscores."
DISPLAY_MESSAGE = "Display name must be 1-100 characters."
AVATAR_MESSAGE = "Avatar URL must be a valid URL or null."
NOTHING_MESSAGE = "No valid fields to update."


async def patch(client: httpx.AsyncClient, user: ApiUser, body: Any) -> httpx.Response:
    return await client.patch("/api/profile", json=body, headers=user.headers)


# /api/me ------------------------------------------------------------------------------


async def test_me_without_a_token_is_signed_out(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/me")
    assert response.status_code == 200
    assert response.json() == {"signed_in": False, "user": None, "profile": None}


async def test_me_shows_a_new_account_on_the_free_plan(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    body = (await client.get("/api/me", headers=user.headers)).json()
    assert body["signed_in"] is True
    assert body["user"] == {"id": str(user.id)}
    profile = body["profile"]
    assert set(profile) == {
        "id",
        "handle",
        "display_name",
        "avatar_url",
        "subscription_tier",
        "credits_remaining",
        "created_at",
        "updated_at",
    }
    assert profile["id"] == str(user.id)
    assert (profile["subscription_tier"], profile["credits_remaining"]) == ("free", 100)
    assert profile["handle"] is None and profile["display_name"] is None


async def test_me_creates_a_missing_profile(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    async with db.as_owner() as conn:
        await conn.execute("delete from public.profiles where id = %s", (user.id,))
    body = (await client.get("/api/me", headers=user.headers)).json()
    assert body["profile"]["id"] == str(user.id)
    assert body["profile"]["credits_remaining"] == 100


# PATCH /api/profile --------------------------------------------------------------------


async def test_patch_sets_display_name_and_handle(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    handle = f"ada_{user.id.hex[:8]}"
    response = await patch(client, user, {"display_name": "  Ada Lovelace ", "handle": handle})
    assert response.status_code == 200
    profile = response.json()["profile"]
    assert profile["display_name"] == "Ada Lovelace" and profile["handle"] == handle
    assert profile["updated_at"] >= profile["created_at"]
    me = (await client.get("/api/me", headers=user.headers)).json()
    assert me["profile"]["handle"] == handle


async def test_patch_ignores_tier_and_credits(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await patch(
        client,
        user,
        {"display_name": "Rich", "subscription_tier": "enterprise", "credits_remaining": 10**6},
    )
    assert response.status_code == 200
    profile = response.json()["profile"]
    assert (profile["subscription_tier"], profile["credits_remaining"]) == ("free", 100)
    only_ignored = await patch(client, user, {"subscription_tier": "pro"})
    assert only_ignored.status_code == 400
    assert only_ignored.json() == {"detail": NOTHING_MESSAGE}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"handle": "ab"}, HANDLE_MESSAGE),
        ({"handle": "test@user"}, HANDLE_MESSAGE),
        ({"handle": "x" * 31}, HANDLE_MESSAGE),
        ({"handle": "héllo"}, HANDLE_MESSAGE),
        ({"handle": 12345}, HANDLE_MESSAGE),
        ({}, NOTHING_MESSAGE),
        ({"display_name": "x" * 101}, DISPLAY_MESSAGE),
        ({"display_name": ["Ada"]}, DISPLAY_MESSAGE),
        ({"avatar_url": "not-a-url"}, AVATAR_MESSAGE),
        ({"avatar_url": "javascript:alert(1)"}, AVATAR_MESSAGE),
        ({"avatar_url": "data:image/png;base64,AAAA"}, AVATAR_MESSAGE),
        ({"avatar_url": "ftp://files.example.com/me.png"}, AVATAR_MESSAGE),
        ({"avatar_url": "https://"}, AVATAR_MESSAGE),
        ({"avatar_url": "https://example.com/a b.png"}, AVATAR_MESSAGE),
        ({"avatar_url": 42}, AVATAR_MESSAGE),
        # Checked in a fixed order: handle, display name, avatar.
        ({"avatar_url": "bad", "display_name": "x" * 101, "handle": "ab"}, HANDLE_MESSAGE),
        ({"avatar_url": "bad", "display_name": "x" * 101}, DISPLAY_MESSAGE),
        (None, "Invalid JSON body"),
        ([{"handle": "listed"}], "Invalid JSON body"),
    ],
)
async def test_patch_refusals(client: httpx.AsyncClient, body: Any, message: str) -> None:
    user = await sign_up(client)
    response = await patch(client, user, body)
    assert response.status_code == 400
    assert response.json() == {"detail": message}
    me = (await client.get("/api/me", headers=user.headers)).json()
    assert me["profile"]["handle"] is None and me["profile"]["display_name"] is None


async def test_patch_with_unparsable_json(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    response = await client.patch(
        "/api/profile",
        content=b"{handle:",
        headers={**user.headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid JSON body"}


async def test_avatar_url_accepts_null_and_web_urls(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    url = "https://cdn.example.com/avatars/ada.png?size=128"
    assert (await patch(client, user, {"avatar_url": url})).json()["profile"]["avatar_url"] == url
    cleared = await patch(client, user, {"avatar_url": None})
    assert cleared.status_code == 200
    assert cleared.json()["profile"]["avatar_url"] is None


async def test_null_or_blank_clears_a_field(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await patch(client, user, {"display_name": "Ada", "handle": f"h_{user.id.hex[:10]}"})
    cleared = await patch(client, user, {"display_name": "   ", "handle": None})
    assert cleared.status_code == 200
    profile = cleared.json()["profile"]
    assert profile["display_name"] is None and profile["handle"] is None


async def test_a_taken_handle_is_refused(client: httpx.AsyncClient) -> None:
    first, second = await sign_up(client), await sign_up(client)
    handle = f"taken_{first.id.hex[:8]}"
    assert (await patch(client, first, {"handle": handle})).status_code == 200
    response = await patch(client, second, {"handle": handle, "display_name": "Second"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Handle is already taken."}
    me = (await client.get("/api/me", headers=second.headers)).json()
    assert me["profile"]["display_name"] is None


def test_parse_profile_update_reads_only_the_three_fields() -> None:
    assert parse_profile_update(
        {"handle": " a_b_c ", "display_name": "", "credits_remaining": 5}
    ) == {"handle": "a_b_c", "display_name": None}
    with pytest.raises(Invalid) as refused:
        parse_profile_update({"credits_remaining": 5})
    assert refused.value.message == NOTHING_MESSAGE


async def test_database_errors_reach_the_common_handlers_unchanged() -> None:
    """A database that is down is the API's 503 with Retry-After (its common handler), not a
    500 of the profile's own: the profile rules let the error through as it is."""
    # A pool of a server that is not there: every wait for a connection ends in PoolTimeout.
    down = Database(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout=0.5)
    await down.open(wait=False)
    try:
        with pytest.raises(DatabaseUnavailable):
            await profiles.load_profile(down, uuid.uuid4())
        with pytest.raises(DatabaseUnavailable):
            await profiles.update_profile(down, uuid.uuid4(), {"display_name": "Ada"})
    finally:
        await down.close()


# /api/usage --------------------------------------------------------------------------


async def test_usage_counts_only_the_callers_work(client: httpx.AsyncClient, db: Database) -> None:
    user, other = await sign_up(client), await sign_up(client)
    counts = ("voices", "generations", "generated_seconds")  # `daily`: test_fair_limits.py
    fresh = (await client.get("/api/usage", headers=user.headers)).json()
    assert {k: fresh[k] for k in counts} == {
        "voices": 0,
        "generations": 0,
        "generated_seconds": 0.0,
    }
    async with db.as_service() as conn:
        for owner in (user.id, other.id):
            await conn.execute(
                "insert into public.voices (user_id, name, source) values (%s, 'v', 'designed')",
                (owner,),
            )
            await conn.execute(
                "insert into public.generations (user_id, text, status, audio_object_key,"
                " duration_seconds) values (%s, 'a', 'completed', 'k1.wav', 12.5),"
                " (%s, 'b', 'completed', 'k2.wav', 7.25), (%s, 'c', 'failed', null, null)",
                (owner, owner, owner),
            )
    usage = (await client.get("/api/usage", headers=user.headers)).json()
    assert {k: usage[k] for k in counts} == {
        "voices": 1,
        "generations": 3,
        "generated_seconds": 19.75,
    }
