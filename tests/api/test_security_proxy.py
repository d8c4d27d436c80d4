"""Whose X-Forwarded-For is believed: nobody's unless UTTER_FORWARDED_ALLOW_IPS says so, through
a real uvicorn configured as `utter serve` configures it (utter/server_options.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import new_email
from tests.support.postgres import migrated_database
from tests.support.server import app_settings, serve_asgi
from utter.app import create_app
from utter.server_options import proxy_options


@pytest.fixture(scope="module")
def own_database(pg_server_url: str) -> str:
    """Every server here is reached from 127.0.0.1; its counters must be these tests' own."""
    return migrated_database(pg_server_url)


@pytest.fixture
def server(own_database: str, tmp_path: Path) -> Iterator[Any]:
    def start(**overrides: Any) -> Any:
        settings = app_settings(
            tmp_path,
            database_url=own_database,
            auth_rate_limit_per_ip=2,
            auth_rate_limit_window=300,
            **overrides,
        )
        return serve_asgi(lambda url: create_app(settings), **proxy_options(settings))

    yield start


def recover_from(url: str, forwarded_for: str) -> int:
    response = httpx.post(
        f"{url}/auth/v1/recover",
        json={"email": new_email("proxy")},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )
    return response.status_code


def test_a_rotating_forwarded_for_does_not_reset_the_per_ip_limit(server: Any) -> None:
    with server() as url:
        statuses = [recover_from(url, f"203.0.113.{n}") for n in (1, 2, 3, 4)]
    assert statuses == [200, 200, 429, 429]


def test_a_listed_proxy_names_the_client(server: Any) -> None:
    with server(forwarded_allow_ips="127.0.0.1") as url:
        # Each client its own count: none of them is over the limit of two.
        statuses = [recover_from(url, f"2001:db8:{n}::1") for n in range(1, 5)]
        assert statuses == [200, 200, 200, 200]
        # The same forwarded client is counted as one.
        client = "198.51.100.7"
        assert [recover_from(url, client) for _ in range(3)] == [200, 200, 429]


def test_no_proxy_is_trusted_by_default() -> None:
    settings = app_settings(Path("unused"))
    assert settings.forwarded_allow_ips == ""
    assert proxy_options(settings) == {"proxy_headers": False, "forwarded_allow_ips": []}
    listed = app_settings(Path("unused"), forwarded_allow_ips=" 10.0.0.1, 10.1.0.0/16 ")
    assert proxy_options(listed) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.1", "10.1.0.0/16"],
    }
