"""Keeps secrets carried in URLs out of the logs.

Signed storage URLs carry their token in the query string (`?token=…`), emailed links theirs
(`?token=…`), presigned S3 URLs their `X-Amz-Signature`, and clients may send `apikey`,
`access_token` or `refresh_token` as query parameters. uvicorn's access log prints every
request's full path, so without this the log would hold working credentials. The values of
those parameters are replaced by `[redacted]` in every record: its message and its arguments
(uvicorn's access log passes the path as one of `args`).

It is installed as the log record factory rather than as a filter because a filter only sees
the records of the logger or handler it is attached to; uvicorn configures its loggers and
handlers itself, after ours, and other libraries log through their own.

The same factory stamps each record with the request id bound in its context (an API
request's, or in a worker the id of the request that queued the job it runs), and with
UTTER_LOG_FORMAT=json every line is one JSON object (`JsonFormatter`), redacted the same way.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
_SECRET_PARAMETER = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])((?:access_|refresh_)?token|token_hash|apikey|api_key"
    r"|x-amz-signature|x-amz-security-token)=[^&#\s\"'<>]+"
)


def redact(text: str) -> str:
    """`text` with the values of secret-bearing URL parameters replaced."""
    return _SECRET_PARAMETER.sub(rf"\1={REDACTED}", text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    # URL objects and the like: replaced by their redacted text only when it differs, so
    # `%d`-style formatting of everything else keeps working.
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_value(arg) for arg in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: _redact_value(arg) for key, arg in record.args.items()}


class RedactSecrets(logging.Filter):
    """The same redaction as a filter, for a handler that must be sure of it on its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class _RedactingFactory:
    def __init__(self, make: Any) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        redact_record(record)
        record.request_id = _request_id.get()
        return record


def install_redaction() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


# Request ids ----------------------------------------------------------------------------

_request_id: ContextVar[str | None] = ContextVar("utter_request_id", default=None)
# What a client may send as X-Request-ID: a proxy's or tracer's id, never a log injection.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def current_request_id() -> str | None:
    """The request id bound in this context (None outside a request or a job)."""
    return _request_id.get()


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID when it is sane (short, printable, no spaces), else a new one."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def bound_request_id(value: str | None) -> Iterator[None]:
    """Every record logged in this context (and in tasks started from it) carries `value`."""
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


# JSON lines -----------------------------------------------------------------------------

# Attributes every record has; anything else on a record came from `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's coloured copy of its message
    "taskName",
}


def _json_value(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return redact(value) if isinstance(value, str) else value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    request id when there is one, `extra=` fields, and the exception's traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = _json_value(value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """The root logger as `utter` sets it up: `text` lines or `json` objects on stderr,
    redacted, with request ids."""
    if log_format == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level.upper(), handlers=[handler])
    else:
        logging.basicConfig(
            level=level.upper(),
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
    install_redaction()


def uvicorn_log_options(log_format: str) -> dict[str, Any]:
    """uvicorn.Config options: with JSON logs, uvicorn installs no handlers of its own, so
    its access and error lines reach the root logger's JSON handler."""
    return {"log_config": None} if log_format == "json" else {}
