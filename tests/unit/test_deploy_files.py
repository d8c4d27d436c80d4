"""deploy/ cannot rot silently: every `UTTER_*` variable its files set is a setting of
utter/settings.py (with a value the setting accepts), and every command they run is one that
`utter`'s own parser accepts. Docker and systemd are not needed: the files are read as text."""

from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from utter.cli import build_parser
from utter.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# `${NAME:-default}` (compose's default), `${NAME:?message}` / `${NAME}` (the operator's value).
SUBSTITUTION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _utter_services() -> dict[str, dict[str, Any]]:
    """The services that run the Utter image (built from deploy/Dockerfile)."""
    return {
        name: service
        for name, service in _compose()["services"].items()
        if str(service.get("image", "")).startswith("utter")
    }


def _variable(name: str) -> str | None:
    """The setting field an environment variable sets, or None for another variable."""
    if name == "DATABASE_URL":
        return "database_url"
    return name.removeprefix("UTTER_").lower() if name.startswith("UTTER_") else None


def _resolved(value: object) -> str | None:
    """A compose value with its defaults filled in; None when it depends on the operator."""
    text = str(value)
    unresolved = False

    def fill(match: re.Match[str]) -> str:
        nonlocal unresolved
        if match.group(2) == "-":
            return match.group(3)
        unresolved = True
        return ""

    text = SUBSTITUTION.sub(fill, text)
    return None if unresolved else text


def _check_settings(
    environment: dict[str, object], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every variable is a setting, and the values known here are ones Settings accepts."""
    unknown = [name for name in environment if _variable(name) not in Settings.model_fields]
    assert not unknown, f"{where} sets variables that are no setting: {unknown}"
    for name in list(os.environ):
        if name.startswith("UTTER_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    with monkeypatch.context() as env:
        for name, value in environment.items():
            resolved = _resolved(value)
            if resolved is not None:
                env.setenv(name, resolved)
        try:
            Settings(_env_file=None)  # type: ignore[call-arg]
        except ValueError as error:
            pytest.fail(f"{where}: {error}")


def _parse(command: list[str], where: str) -> argparse.Namespace:
    try:
        return build_parser().parse_args(command)
    except SystemExit:
        pytest.fail(f"{where} runs `utter {shlex.join(command)}`, which utter refuses")


def _unit(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting line of a systemd unit."""
    lines, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        lines.append((section, key.strip(), value.strip()))
    return lines


def _env_file(path: Path) -> dict[str, object]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2 and not p[0].startswith("#")}


def test_compose_runs_migrate_two_replicas_and_workers_of_the_utter_image() -> None:
    services = _utter_services()
    commands = {name: service.get("command") for name, service in services.items()}
    assert commands["migrate"] == ["migrate"]
    assert [n for n, c in commands.items() if c == ["serve"]] == ["api-1", "api-2"]
    assert commands["worker"] == ["worker"]
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["worker-gpu"]["environment"]["UTTER_ENGINE"] == "qwen"
    for name in ("api-1", "api-2", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize("name", sorted(_utter_services()))
def test_compose_service_commands_and_settings_are_real(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _utter_services()[name]
    command = service.get("command")
    assert isinstance(command, list), f"{name} names its command as a list"
    _parse(command, f"compose service {name}")
    _check_settings(dict(service["environment"]), f"compose service {name}", monkeypatch)


def test_replicas_and_workers_share_one_database_and_the_same_secrets() -> None:
    services = _utter_services()
    shared = ("DATABASE_URL", "UTTER_JWT_SECRET", "UTTER_STORAGE_SIGNING_SECRET")
    shared += tuple(v for v in services["api-1"]["environment"] if v.startswith("UTTER_S3_"))
    first = services["api-1"]["environment"]
    for name in ("api-2", "worker", "worker-gpu", "migrate"):
        for variable in shared:
            assert services[name]["environment"][variable] == first[variable], (name, variable)
    for name in ("api-1", "api-2"):
        assert services[name]["environment"]["UTTER_SERVE_WORKER"] == "false"


def test_the_proxy_sends_requests_to_services_that_exist() -> None:
    services = _compose()["services"]
    upstreams = [
        token.split(":")[0]
        for line in (DEPLOY / "Caddyfile").read_text().splitlines()
        if line.strip().startswith("reverse_proxy")
        for token in line.split()[1:]
        if ":" in token
    ]
    assert {"api-1", "api-2", "minio"} <= set(upstreams)
    assert set(upstreams) <= set(services)


def test_dockerfile_commands_and_settings_are_real(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    commands = re.findall(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert commands, "the Dockerfile names its default commands"
    for command in commands:
        _parse(yaml.safe_load(command), "deploy/Dockerfile")
    assert re.search(r'^ENTRYPOINT \["utter"\]$', text, re.MULTILINE)
    environment: dict[str, object] = {}
    for line in re.findall(r"^ENV (.*)$", text, re.MULTILINE):
        environment |= dict(pair.split("=", 1) for pair in shlex.split(line))
    _check_settings(environment, "deploy/Dockerfile", monkeypatch)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_units_run_real_commands_with_real_settings(
    unit: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _unit(unit)
    starts = [value for section, key, value in lines if (section, key) == ("Service", "ExecStart")]
    assert len(starts) == 1, f"{unit.name} has one ExecStart"
    program, *command = shlex.split(starts[0])
    assert program.endswith("/bin/utter"), program
    args = _parse(command, unit.name)
    assert unit.name == f"utter-{args.command}.service"
    environment: dict[str, object] = {}
    for section, key, value in lines:
        if (section, key) == ("Service", "Environment"):
            environment |= dict(pair.split("=", 1) for pair in shlex.split(value))
    files = [value for _, key, value in lines if key == "EnvironmentFile"]
    assert files == ["/etc/utter/utter.env"], f"{unit.name} reads the shared environment file"
    # The unit's own variables win over the file's, as systemd applies them.
    shared = _env_file(DEPLOY / "systemd" / "utter.env.example")
    _check_settings(shared | environment, unit.name, monkeypatch)


def test_the_environment_examples_set_only_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    example = _env_file(DEPLOY / "systemd" / "utter.env.example")
    _check_settings(example, "deploy/systemd/utter.env.example", monkeypatch)
    # compose's .env also holds the database's and MinIO's own variables; its UTTER_* ones
    # must be settings (the blank secrets are the operator's to fill in).
    compose_env = _env_file(DEPLOY / "env.example")
    utter_only = {k: v for k, v in compose_env.items() if _variable(k) and v}
    _check_settings(utter_only, "deploy/env.example", monkeypatch)


def test_the_deployment_guide_names_only_real_settings() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"\b(UTTER_[A-Z0-9_]*[A-Z0-9])\b(?!_|\*)", text))
    unknown = sorted(n for n in named if _variable(n) not in Settings.model_fields)
    assert not unknown, f"docs/deploy.md names settings that do not exist: {unknown}"
    commands = set(re.findall(r"`utter ([a-z]+)", text))
    subcommands = next(
        set(action.choices)
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert commands and commands <= subcommands, commands - subcommands
