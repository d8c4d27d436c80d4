"""Puts auth into an app: who signs tokens, who checks them, and whether /auth/v1 exists.

* `builtin` (default): Utter signs HS256 tokens with UTTER_JWT_SECRET (or a secret it
  generates once in DATA_DIR/keys), serves /auth/v1, and a token counts only while its
  session is live (one indexed lookup per request), so logout takes effect at once.
* `external`: a hosted Supabase Auth signs the tokens; Utter checks them against its JWKS
  (asymmetric keys) and/or its shared HS256 secret, by each token's algorithm. /auth/v1
  is not mounted. Sessions live in the hosted service, so a token stays valid until it
  expires, as with any locally verified Supabase token.

In both modes a personal API key (`Authorization: Bearer sk-utter-…`, utter/services/keys.py)
stands for its owner wherever an access token does, and only while the key exists: that
is read from the database on every request (the Caller path reads it in the statement
that opens its transaction), so a revoked key, or the key of a deleted account, is
refused on the very next request. A key is not a session: /auth/v1 refuses it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import jwt
from fastapi import FastAPI

from utter.auth import routes
from utter.auth.mailer import OutboxMailer, Postbox, mail_seal, outbox_dir
from utter.auth.models import AuthUser
from utter.auth.ratelimit import Limits, RateLimiter
from utter.auth.service import AuthConfig, AuthService
from utter.auth.tokens import (
    ASYMMETRIC_ALGORITHMS,
    InvalidToken,
    JwksVerifier,
    JwtSigner,
    SecretVerifier,
    TokenVerifier,
    jwt_secret,
)
from utter.db import Connection, Database
from utter.db.pool import user_claims
from utter.db.queries import keys as key_queries
from utter.errors import Forbidden
from utter.jobs.mail import QueuedMail
from utter.jobs.queue import create_queue
from utter.services.keys import is_key_like, key_hash, looks_like_key
from utter.settings import Settings

# Enough for every key of a busy instance; a key past it is simply looked up again.
KEY_HOLDERS_KEPT = 10_000


class ExternalVerifier:
    """A hosted Supabase Auth's tokens: asymmetric ones by its JWKS, HS256 ones by its
    shared secret; a token whose algorithm has no configured key is refused."""

    def __init__(self, jwks: JwksVerifier | None, secret: SecretVerifier | None) -> None:
        if jwks is None and secret is None:
            raise ValueError(
                "UTTER_AUTH_MODE=external needs UTTER_EXTERNAL_AUTH_JWKS_URL or "
                "UTTER_EXTERNAL_AUTH_JWT_SECRET"
            )
        self.jwks = jwks
        self.secret = secret

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if algorithm == "HS256" and self.secret is not None:
            return await self.secret.verify(token)
        if algorithm in ASYMMETRIC_ALGORITHMS and self.jwks is not None:
            return await self.jwks.verify(token)
        raise InvalidToken(f"no key configured for {algorithm}")


class ApiKeys:
    """Personal API keys as bearer tokens: the key's owner, only while the key exists.

    Which user a key belongs to never changes, so `holder` remembers it (by the key's
    hash) for the Caller path; whether the key still exists is never remembered."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._holders: OrderedDict[bytes, AuthUser] = OrderedDict()

    async def user(self, token: str) -> AuthUser | None:
        """The owner of the key `token`, read now (its use noted), or None."""
        if not looks_like_key(token):
            return None
        digest = key_hash(token)
        async with self.db.as_service() as conn:
            row = await key_queries.key_holder(conn, digest)
        if row is None:
            self._holders.pop(digest, None)
            return None
        user = _key_user(row["user_id"], row["id"])
        self._remember(digest, user)
        return user

    async def holder(self, token: str) -> AuthUser | None:
        """`user` without reading the key again when its owner is known: only for reading
        through `Auth.transaction`, which checks that the key still exists."""
        if not looks_like_key(token):
            return None
        digest = key_hash(token)
        known = self._holders.get(digest)
        if known is not None:
            self._holders.move_to_end(digest)
            return known
        return await self.user(token)

    def _remember(self, digest: bytes, user: AuthUser) -> None:
        self._holders[digest] = user
        self._holders.move_to_end(digest)
        if len(self._holders) > KEY_HOLDERS_KEPT:
            self._holders.popitem(last=False)


def _key_user(user_id: UUID, key_id: UUID) -> AuthUser:
    return AuthUser(id=user_id, email=None, claims=user_claims(user_id), key_id=key_id)


@dataclass
class Auth:
    """What the app knows about auth; `service` is None in external mode."""

    mode: str
    verifier: TokenVerifier
    service: AuthService | None
    keys: ApiKeys = field(repr=False, kw_only=True)

    async def user_for(self, authorization: str) -> AuthUser | None:
        """The user an `Authorization: Bearer …` header stands for, or None."""
        token = _bearer_token(authorization)
        if token is None:
            return None
        if is_key_like(token):
            return await self.keys.user(token)
        if self.service is not None:
            try:
                return await self.service.authenticate(token)
            except Forbidden:
                return None
        try:
            return AuthUser.from_claims(await self.verifier.verify(token))
        except InvalidToken:
            return None

    async def token_user(self, authorization: str) -> AuthUser | None:
        """`user_for` without the session (or key) check: the user whose token this header
        carries, or None. Only for reading through `transaction`, which checks it."""
        token = _bearer_token(authorization)
        if token is None:
            return None
        if is_key_like(token):
            return await self.keys.holder(token)
        if self.service is None:
            return await self.user_for(authorization)
        try:
            return await self.service.verified_user(token)
        except Forbidden:
            return None

    @asynccontextmanager
    async def transaction(self, db: Database, user: AuthUser) -> AsyncIterator[Connection]:
        """A transaction under RLS as a `token_user`. It opens only while the user's API key
        exists or (builtin mode) their session is live, checked in its first statement
        (else `ConditionFailed`), so authenticating and reading cost one transaction and
        one connection checkout."""
        if user.key_id is not None:
            async with db.as_user_if(
                user.id, key_queries.KEY_IN_USE, (user.key_id, user.id)
            ) as conn:
                yield conn
            return
        if self.service is None:
            async with db.as_user(user.id) as conn:
                yield conn
            return
        condition, params = self.service.live_session_check(user)
        async with db.as_user_if(user.id, condition, params) as conn:
            yield conn


def _bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def build_auth(settings: Settings, db: Database) -> Auth:
    if settings.auth_mode == "external":
        jwks = None
        if settings.external_auth_jwks_url:
            jwks = JwksVerifier(
                settings.external_auth_jwks_url,
                audience=settings.external_auth_audience,
                issuer=settings.external_auth_issuer,
            )
        secret = None
        if settings.external_auth_jwt_secret is not None:
            secret = SecretVerifier(
                settings.external_auth_jwt_secret.get_secret_value(),
                audience=settings.external_auth_audience,
                issuer=settings.external_auth_issuer,
            )
        return Auth(
            mode="external",
            verifier=ExternalVerifier(jwks, secret),
            service=None,
            keys=ApiKeys(db),
        )

    secret_key = jwt_secret(settings)
    signer = JwtSigner(
        secret_key, expiry_seconds=settings.jwt_expiry, issuer=f"{settings.base_url}/auth/v1"
    )
    limiter = RateLimiter(
        db,
        Limits(
            window_seconds=settings.auth_rate_limit_window,
            per_ip=settings.auth_rate_limit_per_ip,
            per_email=settings.auth_rate_limit_per_email,
        ),
    )
    service = AuthService(
        db,
        AuthConfig.from_settings(settings),
        signer,
        postbox_for(settings, db),
        limiter,
        # Its own key, derived so it need not be configured separately.
        otp_key=hashlib.sha256(b"utter one-time codes\0" + secret_key.encode()).digest(),
    )
    return Auth(mode="builtin", verifier=signer.verifier(), service=service, keys=ApiKeys(db))


def postbox_for(settings: Settings, db: Database) -> Postbox:
    """With an SMTP server, mail is queued for the workers to send; without, it is written
    to the outbox at once (utter/auth/mailer.py says why)."""
    if settings.smtp_host:
        return QueuedMail(create_queue(db.url), mail_seal(settings))
    return OutboxMailer(outbox_dir(settings), settings.smtp_sender)


def install_auth(app: FastAPI, settings: Settings, db: Database) -> Auth:
    """Attach auth to `app` (as `app.state.auth`); mount /auth/v1 in builtin mode (its
    routes answer errors in GoTrue's shapes themselves: `GoTrueRoute`)."""
    auth = build_auth(settings, db)
    app.state.auth = auth
    if auth.service is not None:
        app.include_router(routes.router)
    return auth
