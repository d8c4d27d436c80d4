"""Rate limits on sign-up, sign-in, magic links, password resets and code checks.

Counters live in Postgres (fixed windows, one row per action and client IP or email
address), so every API replica enforces the same limits and a restart forgets nothing.
Email addresses are counted by their hash: the table never holds addresses of people who
have no account.

Password sign-ins are different: they count failures per client IP and per (address,
client IP) pair, never per address alone. A per-address count would let anyone lock an
owner out by guessing wrong on purpose; per pair, only the guesser's own address is
stopped (docs/auth.md, "Rate limits").
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from utter.auth.errors import rate_limited
from utter.auth.tokens import hash_token
from utter.db import Connection, Database
from utter.db.queries import auth as queries

# Actions whose per-address limit counts mail sent to that address.
_SENDS_MAIL = {"otp", "recover"}

_SIGN_IN_FAILURES_IP = "password_failures:ip"
_SIGN_IN_FAILURES_PAIR = "password_failures:pair"


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    per_ip: int
    per_email: int


@dataclass(frozen=True)
class _Counter:
    bucket: str
    key: str
    limit: int
    by_mail: bool = False


def _address_key(email: str) -> str:
    return hash_token(email.strip().lower())


def client_key(ip: str) -> str:
    """What a client IP is counted as: the address itself, or for IPv6 its /64 network. One
    subscriber is usually given a whole /64, and could otherwise take a fresh address, and so a
    fresh count, for each request."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    def __init__(self, db: Database, limits: Limits) -> None:
        self._db = db
        self.limits = limits
        self._pruned_at = 0.0

    async def hit(self, action: str, *, ip: str | None, email: str | None) -> None:
        """Count one `action` request; raise LimitReached (with the seconds left as
        `retry_after`) when a limit is passed. The count is kept either way, so hammering
        past the limit does not reset it."""
        counters = []
        if ip:
            counters.append(_Counter(f"{action}:ip", client_key(ip), self.limits.per_ip))
        if email:
            counters.append(
                _Counter(
                    f"{action}:email",
                    _address_key(email),
                    self.limits.per_email,
                    by_mail=action in _SENDS_MAIL,
                )
            )
        await self._count(counters)

    async def hit_password(self, *, ip: str | None, email: str) -> None:
        """Count one password sign-in as a failure before the password is checked (so
        concurrent guesses cannot all slip under the limit); `forgive_password` takes it
        back when the password was right. Raises LimitReached when this client IP
        has failed too often, for any address or for this one."""
        await self._count(self._password_counters(ip, email))

    async def forgive_password(self, *, ip: str | None, email: str) -> None:
        """Un-count a password sign-in counted by `hit_password` that succeeded."""
        window = self.limits.window_seconds
        async with self._db.as_service() as conn:
            for counter in self._password_counters(ip, email):
                await queries.forgive_rate_limit(conn, counter.bucket, counter.key, window)

    def _password_counters(self, ip: str | None, email: str) -> list[_Counter]:
        # A request without a client address (a Unix socket) still gets a pair of its own.
        client = client_key(ip) if ip else "-"
        pair = f"{_address_key(email)}:{client}"
        counters = [_Counter(_SIGN_IN_FAILURES_PAIR, pair, self.limits.per_email)]
        if ip:
            counters.append(_Counter(_SIGN_IN_FAILURES_IP, client, self.limits.per_ip))
        return counters

    async def _count(self, counters: list[_Counter]) -> None:
        window = self.limits.window_seconds
        over: tuple[float, bool] | None = None
        async with self._db.as_service() as conn:
            for counter in counters:
                hits, left = await queries.hit_rate_limit(conn, counter.bucket, counter.key, window)
                if hits > counter.limit and (over is None or left > over[0]):
                    over = (left, counter.by_mail)
            await self._prune(conn)
        if over is not None:
            seconds_left, by_mail = over
            raise rate_limited(max(1, math.ceil(seconds_left)), email=by_mail)

    async def _prune(self, conn: Connection) -> None:
        window = self.limits.window_seconds
        if time.monotonic() - self._pruned_at > window:
            self._pruned_at = time.monotonic()
            await queries.prune_rate_limits(conn, window)
