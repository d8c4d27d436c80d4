"""Rate limits: per client IP and per email address (password sign-ins: failures per client
IP and per address and IP), kept in Postgres, so every replica enforces the same count; over
the limit → 429 with Retry-After."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import DEFAULT_PASSWORD, new_email
from tests.support.server import app_settings
from utter.app import create_app
from utter.auth.ratelimit import client_key
from utter.db import Database


def a_client_ip() -> str:
    """An address no other test uses (they share the database and so the counters); IPv6
    clients are counted by their /64, so each gets a /64 of its own."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"


@asynccontextmanager
async def limited_client(
    db: Database, data_dir: Path, ip: str, **limits: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = app_settings(data_dir, public_url="http://testserver", **limits)
    transport = httpx.ASGITransport(app=create_app(settings, db=db), client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


Request = Callable[[httpx.AsyncClient, str], Any]

ACTIONS: dict[str, Request] = {
    "signup": lambda c, email: c.post(
        "/auth/v1/signup", json={"email": email, "password": DEFAULT_PASSWORD}
    ),
    "password": lambda c, email: c.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": "wrong password"},
    ),
    "otp": lambda c, email: c.post("/auth/v1/otp", json={"email": email}),
    "recover": lambda c, email: c.post("/auth/v1/recover", json={"email": email}),
    "verify": lambda c, email: c.post(
        "/auth/v1/verify", json={"type": "email", "email": email, "token": "123456"}
    ),
}


@pytest.mark.parametrize("action", list(ACTIONS))
async def test_each_action_is_limited_per_ip(db: Database, tmp_path: Path, action: str) -> None:
    ip = a_client_ip()
    async with limited_client(
        db, tmp_path, ip, auth_rate_limit_per_ip=2, auth_rate_limit_window=120
    ) as client:
        allowed = [await ACTIONS[action](client, new_email()) for _ in range(2)]
        assert all(r.status_code != 429 for r in allowed), [r.text for r in allowed]
        refused = await ACTIONS[action](client, new_email())
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "over_request_rate_limit"
    assert 1 <= int(refused.headers["retry-after"]) <= 120


async def test_the_count_is_shared_by_two_instances_on_one_database(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """Two API replicas, each with its own connection pool, share one budget."""
    ip = a_client_ip()
    limits = {"auth_rate_limit_per_ip": 3, "auth_rate_limit_window": 300}
    async with (
        Database(database_url, min_size=1, max_size=2) as other_db,
        limited_client(db, tmp_path / "a", ip, **limits) as first,
        limited_client(other_db, tmp_path / "b", ip, **limits) as second,
    ):
        statuses = [
            (await ACTIONS["signup"](first, new_email())).status_code,
            (await ACTIONS["signup"](second, new_email())).status_code,
            (await ACTIONS["signup"](first, new_email())).status_code,
        ]
        assert statuses == [200, 200, 200]
        refused = await ACTIONS["signup"](second, new_email())
        assert refused.status_code == 429
        assert "retry-after" in refused.headers
        # Another client is not affected.
        async with limited_client(db, tmp_path / "c", a_client_ip(), **limits) as third:
            assert (await ACTIONS["signup"](third, new_email())).status_code == 200


def sign_in(client: httpx.AsyncClient, email: str, password: str) -> Any:
    return client.post(
        "/auth/v1/token",
        params={"grant_type": "password"},
        json={"email": email, "password": password},
    )


async def signed_up(db: Database, data_dir: Path, prefix: str) -> str:
    email = new_email(prefix)
    async with limited_client(db, data_dir, a_client_ip()) as client:
        assert (await ACTIONS["signup"](client, email)).status_code == 200
    return email


async def test_password_guessing_is_limited_per_address_and_ip(
    db: Database, tmp_path: Path
) -> None:
    target = await signed_up(db, tmp_path / "signup", "target")
    limits = {"auth_rate_limit_per_email": 3, "auth_rate_limit_per_ip": 100}
    async with limited_client(db, tmp_path / "guesser", a_client_ip(), **limits) as guesser:
        statuses = [(await ACTIONS["password"](guesser, target)).status_code for _ in range(4)]
        assert statuses == [400, 400, 400, 429]
        # Stopped for this address even with the right password: this IP has been guessing.
        assert (await sign_in(guesser, target, DEFAULT_PASSWORD)).status_code == 429
    # The same address from another IP is still only told the password is wrong.
    async with limited_client(db, tmp_path / "other", a_client_ip(), **limits) as other:
        assert (await ACTIONS["password"](other, target)).status_code == 400


async def test_strangers_failing_on_an_address_do_not_lock_its_owner_out(
    db: Database, tmp_path: Path
) -> None:
    """The rule deliberately changed: failures are no longer counted per address alone,
    so guessing wrong on purpose from many IPs cannot keep the owner from signing in."""
    target = await signed_up(db, tmp_path / "signup", "owner")
    limits = {"auth_rate_limit_per_email": 2, "auth_rate_limit_per_ip": 100}
    for attempt in range(6):
        async with limited_client(db, tmp_path / str(attempt), a_client_ip(), **limits) as c:
            for _ in range(3):
                await ACTIONS["password"](c, target)
    async with limited_client(db, tmp_path / "owner", a_client_ip(), **limits) as owner:
        answer = await sign_in(owner, target, DEFAULT_PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"]


async def test_correct_passwords_do_not_count_against_the_limit(
    db: Database, tmp_path: Path
) -> None:
    target = await signed_up(db, tmp_path / "signup", "often")
    limits = {"auth_rate_limit_per_email": 2, "auth_rate_limit_per_ip": 2}
    async with limited_client(db, tmp_path / "owner", a_client_ip(), **limits) as owner:
        statuses = [(await sign_in(owner, target, DEFAULT_PASSWORD)).status_code for _ in range(5)]
        assert statuses == [200] * 5
        # Failures still count, and a success in between does not wipe them.
        assert (await ACTIONS["password"](owner, target)).status_code == 400
        assert (await sign_in(owner, target, DEFAULT_PASSWORD)).status_code == 200
        assert (await ACTIONS["password"](owner, target)).status_code == 400
        assert (await ACTIONS["password"](owner, target)).status_code == 429


async def test_mail_to_one_address_is_limited(db: Database, tmp_path: Path) -> None:
    target = new_email("inbox")
    limits = {"auth_rate_limit_per_email": 2, "auth_rate_limit_per_ip": 100}
    async with limited_client(db, tmp_path, a_client_ip(), **limits) as client:
        assert (await ACTIONS["otp"](client, target)).status_code == 200
        assert (await ACTIONS["otp"](client, target)).status_code == 200
        refused = await ACTIONS["otp"](client, target)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "over_email_send_rate_limit"


async def test_a_new_window_starts_afresh(db: Database, tmp_path: Path) -> None:
    ip = a_client_ip()
    async with limited_client(
        db, tmp_path, ip, auth_rate_limit_per_ip=1, auth_rate_limit_window=60
    ) as client:
        assert (await ACTIONS["recover"](client, new_email())).status_code == 200
        assert (await ACTIONS["recover"](client, new_email())).status_code == 429
        async with db.as_owner() as conn:
            await conn.execute(
                "update utter.auth_rate_limits set window_start = now() - interval '61 seconds'"
                " where key = %s",
                (client_key(ip),),
            )
        assert (await ACTIONS["recover"](client, new_email())).status_code == 200


async def test_addresses_are_counted_by_hash(db: Database, tmp_path: Path) -> None:
    target = new_email("private")
    async with limited_client(db, tmp_path, a_client_ip()) as client:
        await ACTIONS["recover"](client, target)
    async with db.as_owner() as conn:
        cur = await conn.execute(
            "select count(*) as n from utter.auth_rate_limits where key ilike %s",
            (f"%{target.split('@')[0]}%",),
        )
        row = await cur.fetchone()
    assert row is not None and row["n"] == 0


async def test_ipv6_clients_are_counted_by_their_64_network(db: Database, tmp_path: Path) -> None:
    """One subscriber usually holds a whole /64: a fresh address in it is not a fresh count."""
    network = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    limits = {"auth_rate_limit_per_ip": 2, "auth_rate_limit_per_email": 100}
    statuses = []
    for n, host in enumerate(("::1", "::2", ":abcd:ef01:2345:6789")):
        async with limited_client(db, tmp_path / str(n), network + host, **limits) as c:
            statuses.append((await ACTIONS["recover"](c, new_email())).status_code)
    assert statuses == [200, 200, 429]
    # The next /64 is someone else.
    following = ipaddress.IPv6Address(f"{network}::1") + (1 << 64)
    async with limited_client(db, tmp_path / "next", str(following), **limits) as c:
        assert (await ACTIONS["recover"](c, new_email())).status_code == 200
