"""Personal API keys: POST/GET/DELETE /api/keys, and a key as the bearer token of every
route that takes one (CurrentUser, OptionalUser, Caller), in builtin and external auth mode;
refused at once once revoked, and refused by /auth/v1, which manages the account."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.api import ApiUser, sign_up
from tests.support.objects import make_task, make_voice
from tests.support.server import app_settings
from tests.support.users import make_user
from utter.app import create_app
from utter.db import Database
from utter.services.keys import MAX_KEYS_PER_USER

REFUSED = {"detail": "Invalid or expired token"}
KEY_FORM = re.compile(r"sk-utter-[A-Za-z0-9_-]{43}")


async def new_key(client: httpx.AsyncClient, user: ApiUser, name: str = "script") -> dict[str, Any]:
    response = await client.post("/api/keys", json={"name": name}, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def stored_key(db: Database, key_id: str) -> dict[str, Any] | None:
    async with db.as_owner() as conn:
        cur = await conn.execute("select * from public.api_keys where id = %s", (key_id,))
        row = await cur.fetchone()
    return dict(row) if row is not None else None


async def tables_holding(db: Database, text: str) -> list[str]:
    """Every table of Utter's schemas with a row whose text contains `text`."""
    async with db.as_owner() as conn:
        cur = await conn.execute(
            "select quote_ident(table_schema) || '.' || quote_ident(table_name) as name"
            " from information_schema.tables where table_type = 'BASE TABLE'"
            " and table_schema in ('public', 'utter', 'auth', 'storage', 'procrastinate')"
        )
        holding = []
        for table in [row["name"] for row in await cur.fetchall()]:
            found = await conn.execute(
                f"select 1 from {table} t where strpos(t::text, %s) > 0 limit 1".encode(),
                (text,),
            )
            if await found.fetchone() is not None:
                holding.append(table)
    return holding


async def test_create_list_and_delete_answer_their_shapes(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    first = await new_key(client, user, "laptop")
    assert set(first) == {"id", "name", "key", "prefix", "created_at"}
    assert first["name"] == "laptop"
    assert KEY_FORM.fullmatch(first["key"]), first["key"]
    assert first["prefix"] == first["key"][:16]
    second = await new_key(client, user, "  Home Assistant  ")
    assert second["name"] == "Home Assistant"  # trimmed

    listed = await client.get("/api/keys", headers=user.headers)
    assert listed.status_code == 200
    keys = listed.json()["keys"]
    assert [k["id"] for k in keys] == [second["id"], first["id"]]  # newest first
    assert keys[1] == {
        "id": first["id"],
        "name": "laptop",
        "prefix": first["prefix"],
        "created_at": first["created_at"],
        "last_used_at": None,
    }

    deleted = await client.delete(f"/api/keys/{first['id']}", headers=user.headers)
    assert (deleted.status_code, deleted.json()) == (200, {"ok": True})
    left = (await client.get("/api/keys", headers=user.headers)).json()["keys"]
    assert [k["id"] for k in left] == [second["id"]]
    again = await client.delete(f"/api/keys/{first['id']}", headers=user.headers)
    assert (again.status_code, again.json()) == (404, {"detail": "API key not found"})


async def test_the_secret_is_never_returned_again_nor_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    made = await new_key(client, user)
    secret = made["key"]
    row = await stored_key(db, made["id"])
    assert row is not None
    assert row["key_hash"] == hashlib.sha256(secret.encode()).digest()
    assert not [column for column, value in row.items() if secret in str(value)]
    await client.get("/api/me", headers=bearer(secret))  # a use stores it nowhere either
    assert await tables_holding(db, secret) == []
    assert "public.api_keys" in await tables_holding(db, made["prefix"])  # the search works
    listed = await client.get("/api/keys", headers=user.headers)
    assert secret not in listed.text
    assert secret not in (await client.get("/api/keys", headers=bearer(secret))).text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "Name must be 1-100 characters."),
        ({"name": "   "}, "Name must be 1-100 characters."),
        ({"name": 7}, "Name must be 1-100 characters."),
        ({"name": "x" * 101}, "Name must be 1-100 characters."),
        ({"name": "a\u0000b"}, None),
    ],
)
async def test_a_bad_name_is_refused_and_makes_no_key(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], detail: str | None
) -> None:
    user = await sign_up(client)
    response = await client.post("/api/keys", json=body, headers=user.headers)
    assert response.status_code == 400, response.text
    if detail is not None:
        assert response.json() == {"detail": detail}
    assert (await client.get("/api/keys", headers=user.headers)).json() == {"keys": []}
    longest = await client.post("/api/keys", json={"name": "x" * 100}, headers=user.headers)
    assert longest.status_code == 200


async def seed_keys(db: Database, user: ApiUser, count: int) -> None:
    """`count` keys for `user`, written straight to the table (their secrets are unknown)."""
    async with db.as_service() as conn:
        for n in range(count):
            await conn.execute(
                "insert into public.api_keys (user_id, name, prefix, key_hash)"
                " values (%s, %s, 'sk-utter-xxxxxxx', %s)",
                (user.id, f"key {n}", hashlib.sha256(f"{user.id} {n}".encode()).digest()),
            )


async def test_an_account_holds_at_most_50_keys(client: httpx.AsyncClient, db: Database) -> None:
    user = await sign_up(client)
    await seed_keys(db, user, MAX_KEYS_PER_USER - 1)
    await new_key(client, user, "the fiftieth")
    over = await client.post("/api/keys", json={"name": "one more"}, headers=user.headers)
    assert over.status_code == 409
    assert over.json() == {
        "detail": "You already have 50 API keys, the most an account may have."
        " Delete one you no longer use to make another."
    }
    keys = (await client.get("/api/keys", headers=user.headers)).json()["keys"]
    assert len(keys) == MAX_KEYS_PER_USER
    # Another account is not held back by this one's keys.
    await new_key(client, await sign_up(client))


async def test_the_limit_holds_under_concurrent_requests(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    await seed_keys(db, user, MAX_KEYS_PER_USER - 2)
    answers = await asyncio.gather(
        *(
            client.post("/api/keys", json={"name": f"racer {n}"}, headers=user.headers)
            for n in range(5)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 200, 409, 409, 409]
    keys = (await client.get("/api/keys", headers=user.headers)).json()["keys"]
    assert len(keys) == MAX_KEYS_PER_USER


async def test_a_key_acts_for_its_owner_on_every_kind_of_route(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    key = bearer((await new_key(client, user))["key"])
    me = (await client.get("/api/me", headers=key)).json()  # OptionalUser
    assert me["signed_in"] is True and me["user"] == {"id": str(user.id)}
    voice = await make_voice(db, user.id, name="Narrator")
    voices = await client.get("/api/voices", headers=key)  # CurrentUser, RLS as the owner
    assert voices.status_code == 200
    assert [v["id"] for v in voices.json()["voices"]] == [str(voice)]
    task_id = await make_task(db, user.id)
    one = await client.get(f"/api/tasks/{task_id}", headers=key)  # Caller
    assert (one.status_code, one.json()["id"]) == (200, str(task_id))
    made = await client.post(
        "/api/generate",
        json={"voice_id": str(voice), "text": "Spoken through a key.", "language": "English"},
        headers=key,
    )
    assert made.status_code == 200, made.text
    try:
        listed = (await client.get("/api/tasks", headers=key)).json()["tasks"]  # Caller
        assert made.json()["task_id"] in [t["id"] for t in listed]
        history = (await client.get("/api/generations", headers=user.headers)).json()
        assert [g["text"] for g in history["generations"]] == ["Spoken through a key."]
    finally:
        await client.post(f"/api/tasks/{made.json()['task_id']}/cancel", headers=key)
    # Under the owner's row-level security: another user's objects stay out of reach.
    other = await sign_up(client)
    theirs = await make_task(db, other.id)
    assert (await client.get(f"/api/tasks/{theirs}", headers=key)).status_code == 404


async def test_a_revoked_key_is_refused_on_the_very_next_request(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    made = await new_key(client, user)
    key = bearer(made["key"])
    task_id = await make_task(db, user.id)
    for path in ("/api/usage", f"/api/tasks/{task_id}", "/api/tasks"):
        assert (await client.get(path, headers=key)).status_code == 200, path
    revoked = await client.delete(f"/api/keys/{made['id']}", headers=user.headers)
    assert revoked.status_code == 200
    # The poll routes first: they know the key's owner already and must still ask whether
    # the key exists.
    for path in (f"/api/tasks/{task_id}", "/api/tasks", "/api/usage", "/api/keys"):
        after = await client.get(path, headers=key)
        assert (after.status_code, after.json()) == (401, REFUSED), path
    assert (await client.get("/api/me", headers=key)).json()["signed_in"] is False
    # The owner's session is not touched.
    assert (await client.get("/api/usage", headers=user.headers)).status_code == 200


async def test_a_poll_with_a_key_is_one_transaction(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task poll reads through one transaction that also checks the key, as it does
    with a session's token: no lookup of its own once the key's owner is known."""
    user = await sign_up(client)
    key = bearer((await new_key(client, user))["key"])
    task_id = await make_task(db, user.id)
    assert (await client.get(f"/api/tasks/{task_id}", headers=key)).status_code == 200
    opened: list[str] = []
    for kind in ("as_user", "as_user_if", "as_service", "as_anon", "as_owner"):
        original = getattr(db, kind)

        def counted(*args: Any, _kind: str = kind, _original: Any = original, **kw: Any) -> Any:
            opened.append(_kind)
            return _original(*args, **kw)

        monkeypatch.setattr(db, kind, counted)
    for path in (f"/api/tasks/{task_id}", "/api/tasks"):
        opened.clear()
        assert (await client.get(path, headers=key)).status_code == 200
        assert opened == ["as_user_if"], path


async def test_another_users_key_cannot_be_revoked(client: httpx.AsyncClient) -> None:
    owner, other = await sign_up(client), await sign_up(client)
    made = await new_key(client, owner)
    for key_id in (made["id"], str(uuid.uuid4()), "not-a-uuid"):
        response = await client.delete(f"/api/keys/{key_id}", headers=other.headers)
        assert (response.status_code, response.json()) == (404, {"detail": "API key not found"})
    assert (await client.get("/api/keys", headers=other.headers)).json() == {"keys": []}
    assert (await client.get("/api/usage", headers=bearer(made["key"]))).status_code == 200


async def test_only_a_session_makes_or_revokes_keys(client: httpx.AsyncClient) -> None:
    """A leaked key cannot mint keys that would outlive its revocation, nor revoke the
    owner's other keys; it may list them (names and prefixes only)."""
    user = await sign_up(client)
    made = await new_key(client, user)
    key = bearer(made["key"])
    refusal = {"detail": "API keys cannot be made or revoked with an API key. Sign in to do that."}
    minted = await client.post("/api/keys", json={"name": "mine now"}, headers=key)
    assert (minted.status_code, minted.json()) == (403, refusal)
    revoked = await client.delete(f"/api/keys/{made['id']}", headers=key)
    assert (revoked.status_code, revoked.json()) == (403, refusal)
    listed = await client.get("/api/keys", headers=key)
    assert [k["id"] for k in listed.json()["keys"]] == [made["id"]]
    assert (await client.get("/api/usage", headers=key)).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "sk-utter-xyz",
        "sk-utter-" + "A" * 43,  # the right form, but no such key
        "sk-utter-" + "A" * 44,
        "sk-utter-",
    ],
)
async def test_an_unknown_or_malformed_key_is_refused(
    client: httpx.AsyncClient, db: Database, token: str
) -> None:
    task_id = await make_task(db, (await make_user(db)).id)
    for path in ("/api/usage", f"/api/tasks/{task_id}", "/api/tasks"):
        response = await client.get(path, headers=bearer(token))
        assert (response.status_code, response.json()) == (401, REFUSED), path
    assert (await client.get("/api/me", headers=bearer(token))).json()["signed_in"] is False


async def _last_used(db: Database, key_id: str) -> Any:
    row = await stored_key(db, key_id)
    assert row is not None
    return row["last_used_at"]


async def test_last_used_at_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    made = await new_key(client, user)
    key = bearer(made["key"])
    task_id = await make_task(db, user.id)
    assert await _last_used(db, made["id"]) is None
    for path in ("/api/usage", f"/api/tasks/{task_id}"):  # CurrentUser, then Caller
        assert (await client.get(path, headers=key)).status_code == 200
        first = await _last_used(db, made["id"])
        assert first is not None
        assert (await client.get(path, headers=key)).status_code == 200
        assert await _last_used(db, made["id"]) == first  # within the minute: not rewritten
        async with db.as_owner() as conn:
            await conn.execute(
                "update public.api_keys set last_used_at = last_used_at - interval '61 seconds'"
                " where id = %s",
                (made["id"],),
            )
        aged = await _last_used(db, made["id"])
        assert (await client.get(path, headers=key)).status_code == 200
        assert await _last_used(db, made["id"]) > aged, path
        async with db.as_owner() as conn:  # back to unused for the next route
            await conn.execute(
                "update public.api_keys set last_used_at = null where id = %s", (made["id"],)
            )
    listed = (await client.get("/api/keys", headers=user.headers)).json()["keys"]
    assert listed[0]["last_used_at"] is None


async def test_the_key_of_a_deleted_account_stops_working(
    client: httpx.AsyncClient, db: Database
) -> None:
    user = await sign_up(client)
    made = await new_key(client, user)
    key = bearer(made["key"])
    task_id = await make_task(db, user.id)
    assert (await client.get(f"/api/tasks/{task_id}", headers=key)).status_code == 200
    async with db.as_owner() as conn:
        await conn.execute("delete from auth.users where id = %s", (user.id,))
    assert await stored_key(db, made["id"]) is None  # the keys went with the account
    for path in (f"/api/tasks/{task_id}", "/api/tasks", "/api/usage"):
        response = await client.get(path, headers=key)
        assert (response.status_code, response.json()) == (401, REFUSED), path


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/auth/v1/user", None),
        ("PUT", "/auth/v1/user", {"password": "another long password"}),
        ("PUT", "/auth/v1/user", {"email": "taken-over@example.test"}),
        ("POST", "/auth/v1/logout", None),
    ],
)
async def test_a_key_cannot_manage_the_account(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    user = await sign_up(client)
    key = bearer((await new_key(client, user))["key"])
    response = await client.request(method, path, json=body, headers=key)
    assert response.status_code == 403
    assert response.json() == {
        "code": 403,
        "error_code": "bad_jwt",
        "msg": "An API key cannot be used to manage the account. Sign in to do that.",
    }
    # Nothing changed: the session still works, and so does the password.
    me = await client.get("/auth/v1/user", headers=user.headers)
    assert me.status_code == 200 and me.json()["email"] == user.email
    signed_in = await client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": user.email, "password": user.password},
    )
    assert signed_in.status_code == 200


async def test_external_auth_mode_accepts_keys(db: Database, tmp_path: Path) -> None:
    """With a hosted Supabase Auth signing the sessions, keys are still Utter's own."""
    secret = "super-secret-jwt-token-with-at-least-32-characters-long"
    app = create_app(
        app_settings(tmp_path, auth_mode="external", external_auth_jwt_secret=secret), db=db
    )
    user = await make_user(db)
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": user.email,
        "session_id": str(uuid.uuid4()),
    }
    session = bearer(jwt.encode(claims, secret, algorithm="HS256"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        made = await client.post("/api/keys", json={"name": "n8n"}, headers=session)
        assert made.status_code == 200, made.text
        key = bearer(made.json()["key"])
        task_id = await make_task(db, user.id)
        me = (await client.get("/api/me", headers=key)).json()
        assert me["signed_in"] is True and me["user"] == {"id": str(user.id)}
        for path in ("/api/usage", f"/api/tasks/{task_id}", "/api/tasks"):
            assert (await client.get(path, headers=key)).status_code == 200, path
        revoked = await client.delete(f"/api/keys/{made.json()['id']}", headers=session)
        assert revoked.status_code == 200
        for path in (f"/api/tasks/{task_id}", "/api/tasks", "/api/usage"):
            response = await client.get(path, headers=key)
            assert (response.status_code, response.json()) == (401, REFUSED), path
