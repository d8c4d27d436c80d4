"""What a raised error becomes at the HTTP boundary, for unit tests that call a rule directly.

Rules raise domain errors (utter/errors.py) that utter/api/errors.py maps to statuses; a few
still raise the older ApiError while the code moves over. Either way the client sees one
status and one `detail`, and that pair is what these tests pin down."""

from __future__ import annotations

import utter.errors
from utter.api.errors import http_status
from utter.errors import UtterError


def status_and_detail(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, UtterError):
        return http_status(exc), exc.message
    legacy = getattr(utter.errors, "ApiError", None)
    if legacy is not None and isinstance(exc, legacy):
        return exc.status_code, str(exc.detail)
    raise AssertionError(f"not an error the API answers in words: {exc!r}")
