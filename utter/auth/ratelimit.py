"""Rate limits on sign-up, sign-in, magic links, password resets and code checks.

Counters live in Postgres (fixed windows, one row per action and client IP or email
address), so every API replica enforces the same limits and a restart forgets nothing.
Email addresses are counted by their hash: the table never holds addresses of people who
have no account.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from utter.auth.errors import rate_limited
from utter.auth.tokens import hash_token
from utter.db import Database
from utter.db.queries import auth as queries

# Actions whose per-address limit counts mail sent to that address.
_SENDS_MAIL = {"otp", "recover"}


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    per_ip: int
    per_email: int


class RateLimiter:
    def __init__(self, db: Database, limits: Limits) -> None:
        self._db = db
        self.limits = limits
        self._pruned_at = 0.0

    async def hit(self, action: str, *, ip: str | None, email: str | None) -> None:
        """Count one `action` request; raise a 429 AuthApiError when a limit is passed.
        The count is kept either way, so hammering past the limit does not reset it."""
        window = self.limits.window_seconds
        over: tuple[float, bool] | None = None
        async with self._db.as_service() as conn:
            if ip:
                hits, left = await queries.hit_rate_limit(conn, f"{action}:ip", ip, window)
                if hits > self.limits.per_ip:
                    over = (left, False)
            if email:
                key = hash_token(email.strip().lower())
                hits, left = await queries.hit_rate_limit(conn, f"{action}:email", key, window)
                if hits > self.limits.per_email and (over is None or left > over[0]):
                    over = (left, action in _SENDS_MAIL)
            if time.monotonic() - self._pruned_at > window:
                self._pruned_at = time.monotonic()
                await queries.prune_rate_limits(conn, window)
        if over is not None:
            seconds_left, by_mail = over
            raise rate_limited(max(1, math.ceil(seconds_left)), email=by_mail)
