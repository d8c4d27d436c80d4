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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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
        return record


def install_redaction() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))
