"""The rules behind /metrics and JSON logs, called directly: the token check, which request
ids are kept, the shape of a JSON line, the queue's gauges."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from utter.logs import REDACTED, JsonFormatter, bound_request_id, request_id_from
from utter.metrics import queue_families, token_matches

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ("Bearer right-token", True),
        ("bearer right-token", True),
        ("Bearer wrong-token", False),
        ("Basic right-token", False),
        ("right-token", False),
        ("Bearer ", False),
        ("", False),
        (None, False),
    ],
)
def test_the_metrics_token_is_a_bearer_token(header: str | None, matches: bool) -> None:
    assert token_matches(header, "right-token") is matches


@pytest.mark.parametrize("given", ["req-1", "0f3c2a9e.b7:trace@edge/1", "a" * 128])
def test_a_sane_request_id_is_kept(given: str) -> None:
    assert request_id_from(given) == given


@pytest.mark.parametrize("given", [None, "", "two words", "a" * 129, "line\nbreak", "é"])
def test_any_other_request_id_is_replaced_by_a_new_one(given: str | None) -> None:
    made = request_id_from(given)
    assert made != given and len(made) == 32 and made.isalnum()
    assert request_id_from(given) != made  # a new one each time


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("utter.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_its_fields_its_extras_and_its_exception_redacted() -> None:
    try:
        raise RuntimeError(f"GET /storage/v1/object/sign/x?token={SECRET}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = _record("fetched %s", f"/a?apikey={SECRET}", task_id="t-1", attempt=2)
    record.exc_info = exc_info
    record.request_id = "req-9"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "utter.test"
    assert line["time"].endswith("+00:00")
    assert line["message"] == f"fetched /a?apikey={REDACTED}"
    assert line["request_id"] == "req-9"
    assert line["task_id"] == "t-1" and line["attempt"] == 2
    assert "RuntimeError" in line["exception"] and SECRET not in line["exception"]


def test_the_request_id_is_bound_only_inside_its_block() -> None:
    from utter.logs import current_request_id

    assert current_request_id() is None
    with bound_request_id("req-1"):
        assert current_request_id() == "req-1"
    assert current_request_id() is None


def test_every_known_queue_kind_has_its_series_and_ages_never_go_negative() -> None:
    rows = [
        {
            "queue_name": "speech",
            "task_name": "gen",
            "status": "todo",
            "jobs": 3,
            "oldest_seconds": 12.5,
        },
        # A job scheduled for later: its "age" is negative, shown as 0.
        {
            "queue_name": "speech",
            "task_name": "design",
            "status": "todo",
            "jobs": 1,
            "oldest_seconds": -4.0,
        },
    ]
    depth, age = queue_families(rows, [("speech", "gen"), ("speech", "design"), ("mail", "m")])
    jobs = {(s.labels["task"], s.labels["status"]): s.value for s in depth.samples}
    assert jobs[("gen", "todo")] == 3 and jobs[("gen", "doing")] == 0
    assert jobs[("m", "todo")] == 0
    ages = {s.labels["task"]: s.value for s in age.samples}
    assert ages == {"gen": 12.5, "design": 0.0, "m": 0.0}
