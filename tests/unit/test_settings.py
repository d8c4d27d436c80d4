"""Reading settings (utter/settings.py): UTTER_* variables, DATABASE_URL without the prefix,
the derived URLs and hosts, and the environment handed to a child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from utter.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the machine running the tests, and no .env, leaks in."""
    for name in list(os.environ):
        if name.startswith("UTTER_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_variables_are_read_with_the_utter_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UTTER_PORT", "9001")
    monkeypatch.setenv("UTTER_SERVE_WORKER", "false")
    monkeypatch.setenv("UTTER_ENGINE", "modal")
    monkeypatch.setenv("PORT", "1")
    settings = Settings()
    assert (settings.port, settings.serve_worker, settings.engine) == (9001, False, "modal")


def test_database_url_is_read_with_or_without_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a/b")
    assert Settings().database_url == "postgresql://a/b"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("UTTER_DATABASE_URL", "postgresql://c/d")
    assert Settings().database_url == "postgresql://c/d"


def test_a_dot_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("UTTER_PORT=8123\n")
    assert Settings().port == 8123


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("UTTER_PORT", "0"),
        ("UTTER_PORT", "70000"),
        ("UTTER_ENGINE", "gpu"),
        ("UTTER_WORKER_NICE", "20"),
    ],
)
def test_out_of_range_values_are_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_base_url_is_the_public_url_without_a_trailing_slash() -> None:
    assert Settings(host="0.0.0.0", port=8080).base_url == "http://0.0.0.0:8080"
    assert Settings(public_url="https://studio.example/").base_url == "https://studio.example"


def test_allowed_hosts_default_to_this_servers_own_names() -> None:
    assert Settings(host="::1", port=9000).allowed_host_list == [
        "[::1]:9000",
        "localhost:9000",
        "127.0.0.1:9000",
    ]
    listed = Settings(allowed_hosts=" Studio.LAN:8000, ,10.0.0.2:8000 ")
    assert listed.allowed_host_list == ["studio.lan:8000", "10.0.0.2:8000"]


def test_the_child_process_environment_reproduces_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configured = Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql://u@h/db",
        serve_worker=False,
        jwt_secret="j" * 40,
        cors_allowed_origins="https://a.example,https://b.example",
    ).resolved()
    env = configured.as_environment()
    assert env["DATABASE_URL"] == "postgresql://u@h/db"
    assert env["UTTER_SERVE_WORKER"] == "false"
    assert env["UTTER_JWT_SECRET"] == "j" * 40
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == configured


def test_a_blank_secret_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # An env file's `UTTER_METRICS_TOKEN=` would otherwise be an empty token that the
    # header `Authorization: Bearer ` matches, opening /metrics to anyone.
    monkeypatch.setenv("UTTER_METRICS_TOKEN", "")
    monkeypatch.setenv("UTTER_JWT_SECRET", "  ")
    monkeypatch.setenv("UTTER_S3_SECRET_ACCESS_KEY", "s3cret")
    settings = Settings()
    assert settings.metrics_token is None
    assert settings.jwt_secret is None
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "s3cret"
