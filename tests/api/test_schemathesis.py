"""Every operation in the app's own /openapi.json, run through schemathesis' engine (its
coverage phase, then generated valid and invalid input) over a live server as a signed-in
user: no answer may be a 5xx. Seeded and bounded, so a run is reproducible and short."""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from tests.support.api import DEFAULT_PASSWORD

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 10


def _bearer(base_url: str) -> str:
    email = f"schemathesis-{uuid.uuid4().hex[:12]}@example.test"
    response = httpx.post(
        f"{base_url}/auth/v1/signup", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_no_generated_request_is_a_server_error(live_server: str) -> None:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261130,
            "headers": {"Authorization": f"Bearer {_bearer(live_server)}"},
            "generation": {"max-examples": EXAMPLES_PER_OPERATION, "mode": "all"},
            "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
            # Stateful chains need links the document does not declare.
            "phases": {"stateful": {"enabled": False}},
            # Logging out ends the session every later request is signed in with, so
            # everything after it would only see 401s.
            # A speech that is accepted streams until its generation ends, and this
            # server runs no worker; /v1's speech is driven by tests/jobs/test_openai_v1.py.
            "operations": [
                {"include-path": "/auth/v1/logout", "enabled": False},
                {"include-path": "/v1/audio/speech", "enabled": False},
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json", config=config)
    tested: set[str] = set()
    server_errors: dict[str, list[str]] = {}
    problems: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status != Status.SKIP:
            tested.add(event.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE:
                        case = event.recorder.cases[case_id].value
                        server_errors.setdefault(event.label, []).append(case.as_curl_command())
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            problems.append(str(event.info if hasattr(event, "info") else event))
    assert problems == []
    assert len(tested) > 30, sorted(tested)
    assert server_errors == {}
