"""The local backend's signed-URL tokens (utter/storage/tokens.py): one operation on one
object until it expires, refused in plain words otherwise. No clock is waited on: a token
signed with a negative lifetime is already expired."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from tests.support.refusals import status_and_detail
from utter.storage.tokens import Op, TokenSigner

SECRET = "s" * 48
signer = TokenSigner(SECRET)


def refusal(
    token: str | None, op: Op = "download", bucket: str = "b", key: str = "k"
) -> tuple[int, str]:
    with pytest.raises(Exception) as caught:
        signer.verify(token, op, bucket, key)
    return status_and_detail(caught.value)


def test_a_token_grants_what_it_names_until_it_expires() -> None:
    owner = uuid.uuid4()
    token, expires_at = signer.sign(
        "upload", "references", "u/v.wav", expires_in=60, owner=owner, max_bytes=1234
    )
    assert expires_at >= time.time() + 60
    grant = signer.verify(token, "upload", "references", "u/v.wav")
    assert (grant.op, grant.bucket, grant.key, grant.expires_at) == (
        "upload",
        "references",
        "u/v.wav",
        expires_at,
    )
    assert (grant.owner, grant.max_bytes) == (owner, 1234)


def test_no_token_is_a_400() -> None:
    assert refusal(None) == (400, "A signed URL token is required.")
    assert refusal("") == (400, "A signed URL token is required.")


def test_an_expired_token_is_a_403() -> None:
    token, _ = signer.sign("download", "b", "k", expires_in=-5)
    assert refusal(token) == (403, "This signed URL has expired.")


def test_a_token_moved_to_another_object_or_operation_is_a_403() -> None:
    token, _ = signer.sign("download", "b", "k", expires_in=60)
    moved = (403, "This signed URL is not valid for this object.")
    assert refusal(token, key="other") == moved
    assert refusal(token, bucket="other") == moved
    assert refusal(token, op="upload") == moved


def test_forged_or_foreign_tokens_are_403s() -> None:
    token, _ = signer.sign("download", "b", "k", expires_in=60)
    invalid = (403, "Invalid signed URL token.")
    assert refusal(TokenSigner("x" * 48).sign("download", "b", "k", expires_in=60)[0]) == invalid
    assert refusal(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")) == invalid
    assert refusal("not.a.token") == invalid
    # Right key, but not a storage token (another issuer) or one that never expires.
    claims = {"op": "download", "bucket": "b", "key": "k", "exp": int(time.time()) + 60}
    assert refusal(jwt.encode({**claims, "iss": "elsewhere"}, SECRET, "HS256")) == invalid
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    assert refusal(jwt.encode({**no_exp, "iss": "utter-storage"}, SECRET, "HS256")) == invalid
