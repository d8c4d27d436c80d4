"""What can go wrong, in the domain's words: no HTTP here.

Services, storage, audio, engines and auth raise these; each carries a plain message for
the person who asked. `utter.api.errors` is the one place that maps them to HTTP statuses
(and any other dialect the API speaks maps them there too).
"""

from __future__ import annotations

NUL_MESSAGE = "Text must not contain NUL characters."
UNICODE_MESSAGE = "Text must be valid Unicode."
INTERNAL_ERROR = "Internal server error."

# How long a client should wait before retrying while a dependency is down: long enough
# for the embedded database to be restarted, short enough that nobody waits for nothing.
RETRY_AFTER_SECONDS = 5


class UtterError(Exception):
    """A refusal or failure with a plain `message`; `code` names it for machine readers
    (auth's error codes), `retry_after` says when trying again may help (seconds)."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


class Invalid(UtterError):
    """The request itself is wrong: a missing or malformed field, a rule broken."""


class Unauthenticated(UtterError):
    """No one, or no one we can verify, is asking."""


class Forbidden(UtterError):
    """The caller is known but may not do this."""


class NotFound(UtterError):
    """No such thing, or not the caller's: the two are never told apart."""


class Conflict(UtterError):
    """The thing is not in a state that allows this (already exists, not finished yet)."""


class TooLarge(UtterError):
    """An upload or a body over its limit."""


class UnsupportedMedia(UtterError):
    """Content of a type that is not accepted here (judged by its bytes)."""


class Unprocessable(UtterError):
    """Well-formed, but it cannot be done (a language the transcriber cannot read)."""


class LimitReached(UtterError):
    """A per-user limit or rate: the caller must wait (retry_after) or do less."""


class Failed(UtterError):
    """Our own failure, said plainly (the row could not be written)."""


class UpstreamFailed(UtterError):
    """A service we depend on (a remote transcriber) answered with an error."""


class Unavailable(UtterError):
    """Something we depend on is down for now; retry_after says when to try again."""


def text_problem(value: str) -> str | None:
    """Why Postgres could not store `value` as text, in plain words (None: it can). JSON
    may carry both a NUL (`\\u0000`) and half of a surrogate pair (`\\ud800`), which is no
    character at all and cannot be encoded as UTF-8."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return UNICODE_MESSAGE
    return None
