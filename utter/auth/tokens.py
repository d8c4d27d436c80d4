"""Access tokens (JWTs, as Supabase Auth issues them), refresh tokens and emailed one-time
tokens.

Access tokens are HS256 JWTs signed with the server's secret. Verifying is strict: the
algorithm is fixed by the verifier (never taken from the token, so `alg: none` and
key-confusion tokens fail), `exp` and `sub` are required, `aud` must match and the role
must be `authenticated`. In external mode the same checks run against a hosted Supabase
Auth's keys: its JWKS (asymmetric keys only) or its shared HS256 secret.

Refresh tokens and emailed link tokens are 256-bit random strings; only their SHA-256 is
stored. The 6-digit email codes are too short for a plain hash to protect them, so they are
stored as an HMAC keyed with a server secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt

from utter.keys import load_or_create_secret
from utter.settings import Settings

log = logging.getLogger(__name__)

AUDIENCE = "authenticated"
ROLE = "authenticated"

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


def _checked(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims every accepted token must carry, whoever signed it."""
    sub = claims.get("sub")
    try:
        UUID(str(sub))
    except ValueError as exc:
        raise InvalidToken("sub is not a user id") from exc
    if claims.get("role") != ROLE:
        raise InvalidToken("not a signed-in user's token")
    return dict(claims)


def _decode(
    token: str, key: Any, algorithms: list[str], audience: str, issuer: str | None
) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return _checked(claims)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises InvalidToken."""
        ...


class SecretVerifier:
    """HS256 tokens signed with a shared secret (the built-in auth's, or a Supabase
    project's legacy JWT secret)."""

    def __init__(self, secret: str, *, audience: str = AUDIENCE, issuer: str | None = None):
        self._secret = secret
        self._audience = audience
        self._issuer = issuer

    async def verify(self, token: str) -> dict[str, Any]:
        return _decode(token, self._secret, ["HS256"], self._audience, self._issuer)


class JwksVerifier:
    """Tokens signed with one of the asymmetric keys a JWKS URL publishes.

    The key set is cached for `cache_seconds`. A token naming an unknown `kid` makes it
    refetch (keys rotate), but at most once per `refetch_seconds`, so tokens with made-up
    key ids cannot turn Utter into a flood of requests to the auth server."""

    def __init__(
        self,
        url: str,
        *,
        audience: str = AUDIENCE,
        issuer: str | None = None,
        cache_seconds: float = 600,
        refetch_seconds: float = 30,
    ) -> None:
        self.url = url
        self._audience = audience
        self._issuer = issuer
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.warning("skipping a key in %s: %s", self.url, exc)
                continue
            if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
                keys[entry.get("kid")] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str | None) -> jwt.PyJWK | None:
        async with self._lock:
            age = None if self._fetched_at is None else time.monotonic() - self._fetched_at
            stale = age is None or age > self._cache_seconds
            unknown = kid not in self._keys and (age is None or age > self._refetch_seconds)
            if stale or unknown:
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("could not fetch the JWKS at %s: %s", self.url, exc)
            return self._keys.get(kid)

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
            raise InvalidToken("algorithm not accepted")
        key = await self._key(header.get("kid"))
        if key is None:
            raise InvalidToken("no key with that kid")
        return _decode(token, key, [key.algorithm_name], self._audience, self._issuer)


def jwt_secret(settings: Settings) -> str:
    """The built-in auth's HS256 key: UTTER_JWT_SECRET, or one generated once in DATA_DIR."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return load_or_create_secret(settings.data_dir, "jwt_secret")


class JwtSigner:
    """Issues the built-in auth's access tokens (JWTs) with Supabase's claims."""

    def __init__(self, secret: str, *, expiry_seconds: int, issuer: str) -> None:
        self._secret = secret
        self.expiry_seconds = expiry_seconds
        self.issuer = issuer

    def verifier(self) -> SecretVerifier:
        return SecretVerifier(self._secret)

    def issue(
        self,
        user: Mapping[str, Any],
        session_id: UUID,
        *,
        method: str,
        authenticated_at: int,
        now: int | None = None,
    ) -> tuple[str, int]:
        """A token for `user` in `session_id`, and when it expires (epoch seconds)."""
        issued_at = int(time.time()) if now is None else now
        expires_at = issued_at + self.expiry_seconds
        claims = {
            "iss": self.issuer,
            "sub": str(user["id"]),
            "aud": AUDIENCE,
            "exp": expires_at,
            "iat": issued_at,
            "email": user.get("email") or "",
            "phone": "",
            "app_metadata": user.get("raw_app_meta_data") or {},
            "user_metadata": user.get("raw_user_meta_data") or {},
            "role": ROLE,
            "aal": "aal1",
            "amr": [{"method": method, "timestamp": authenticated_at}],
            "session_id": str(session_id),
            "is_anonymous": False,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires_at


# Refresh and one-time tokens -----------------------------------------------------------


def new_opaque_token() -> str:
    """A refresh token or an emailed link token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def otp_hash(key: bytes, email: str, otp: str) -> str:
    return hmac.new(key, f"{email.lower()}:{otp}".encode(), hashlib.sha256).hexdigest()
