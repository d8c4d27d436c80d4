"""External mode: tokens from a hosted Supabase Auth, checked by its JWKS (a local HTTP
server publishes keys made here) or by its shared HS256 secret; /auth/v1 is not served."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from tests.support.server import app_settings
from tests.support.users import DbUser, make_user
from utter.app import create_app
from utter.auth.tokens import InvalidToken, JwksVerifier
from utter.db import Database

ISSUER = "https://project.supabase.test/auth/v1"


class Keys:
    """Signing keys of a pretend hosted Supabase Auth, and the JWKS it publishes."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published: list[dict[str, Any]] = [
            self.jwk(self.rsa, "rsa-1", "RS256"),
            self.jwk(self.ec, "ec-1", "ES256"),
        ]
        self.fetches = 0

    @staticmethod
    def jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        entry: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
        return {**entry, "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def jwks_url(keys: Keys) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            keys.fetches += 1
            body = json.dumps({"keys": keys.published}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/auth/v1/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def claims_for(user: DbUser, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": str(user.id),
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": user.email,
        "role": "authenticated",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    claims.update(changes)
    return claims


def sign(private: Any, kid: str, alg: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})


def hs256_by_hand(claims: dict[str, Any], key: bytes) -> str:
    """The key-confusion attack: HS256 keyed with the public key everyone can fetch
    (PyJWT refuses to make one, so it is assembled here)."""

    def part(value: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(
        hmac.new(key, signing_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.fixture
async def external(db: Database, tmp_path: Path, jwks_url: str) -> AsyncIterator[Any]:
    app = create_app(
        app_settings(
            tmp_path,
            auth_mode="external",
            external_auth_jwks_url=jwks_url,
            external_auth_issuer=ISSUER,
        ),
        db=db,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield app, client


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def usage_status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/usage", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.json() == {"detail": "Invalid or expired token"}
    return response.status_code


async def test_the_built_in_auth_is_not_mounted(external: Any) -> None:
    app, client = external
    app_: FastAPI = app
    assert not [r for r in app_.routes if getattr(r, "path", "").startswith("/auth/v1")]
    assert not [p for p in app_.openapi()["paths"] if p.startswith("/auth/v1")]
    for method, path in (("POST", "/auth/v1/signup"), ("GET", "/auth/v1/settings")):
        response = await client.request(method, path, json={})
        assert response.status_code in (404, 405), path
    assert app_.state.auth.service is None


@pytest.mark.parametrize(("kid", "alg"), [("rsa-1", "RS256"), ("ec-1", "ES256")])
async def test_tokens_signed_by_published_keys_are_accepted(
    external: Any, keys: Keys, db: Database, kid: str, alg: str
) -> None:
    _, client = external
    user = await make_user(db)
    private = keys.rsa if alg == "RS256" else keys.ec
    token = sign(private, kid, alg, claims_for(user))
    body = await me(client, token)
    assert body["signed_in"] is True and body["user"]["id"] == str(user.id)
    assert body["profile"]["subscription_tier"] == "free"
    assert await usage_status(client, token) == 200


async def test_forged_and_mismatched_tokens_are_refused(
    external: Any, keys: Keys, db: Database
) -> None:
    _, client = external
    user = await make_user(db)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = {
        "another key, same kid": sign(stranger, "rsa-1", "RS256", claims_for(user)),
        "unknown kid": sign(stranger, "rsa-9", "RS256", claims_for(user)),
        "HS256 keyed with the public key": hs256_by_hand(claims_for(user), public_pem),
        "alg none": jwt.encode(claims_for(user), None, algorithm="none"),
        "wrong audience": sign(keys.rsa, "rsa-1", "RS256", claims_for(user, aud="anon")),
        "wrong issuer": sign(
            keys.rsa, "rsa-1", "RS256", claims_for(user, iss="https://other.test/auth/v1")
        ),
        "expired": sign(keys.rsa, "rsa-1", "RS256", claims_for(user, exp=int(time.time()) - 10)),
        "anon key": sign(keys.rsa, "rsa-1", "RS256", claims_for(user, role="anon")),
    }
    for defect, token in forged.items():
        assert await usage_status(client, token) == 401, defect
        assert (await me(client, token))["signed_in"] is False, defect


async def test_a_shared_secret_project(db: Database, tmp_path: Path) -> None:
    secret = "super-secret-jwt-token-with-at-least-32-characters-long"
    app = create_app(
        app_settings(tmp_path, auth_mode="external", external_auth_jwt_secret=secret), db=db
    )
    user = await make_user(db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        good = jwt.encode(claims_for(user), secret, algorithm="HS256")
        assert await usage_status(client, good) == 200
        other = jwt.encode(claims_for(user), "x" * 40, algorithm="HS256")
        assert await usage_status(client, other) == 401
        # No JWKS configured: an asymmetric token cannot be checked, so it is refused.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert await usage_status(client, sign(key, "k", "RS256", claims_for(user))) == 401
        assert not [p for p in app.openapi()["paths"] if p.startswith("/auth/v1")]


async def test_external_mode_needs_a_key(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="EXTERNAL_AUTH"):
        create_app(app_settings(tmp_path, auth_mode="external"), db=db)


async def test_jwks_is_cached_and_refetched_when_keys_rotate(
    keys: Keys, jwks_url: str, db: Database
) -> None:
    user = await make_user(db)
    verifier = JwksVerifier(jwks_url, refetch_seconds=3600)
    for _ in range(3):
        await verifier.verify(sign(keys.rsa, "rsa-1", "RS256", claims_for(user)))
    assert keys.fetches == 1

    # Made-up key ids do not make it fetch again within refetch_seconds.
    for n in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(sign(keys.rsa, f"bogus-{n}", "RS256", claims_for(user)))
    assert keys.fetches == 1

    # A real rotation: the new kid is fetched once the refetch interval allows it.
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.published.append(Keys.jwk(rotated, "rsa-2", "RS256"))
    fresh = JwksVerifier(jwks_url, refetch_seconds=0)
    await fresh.verify(sign(keys.rsa, "rsa-1", "RS256", claims_for(user)))
    claims = await fresh.verify(sign(rotated, "rsa-2", "RS256", claims_for(user)))
    assert claims["sub"] == str(user.id)
