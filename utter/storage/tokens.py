"""Signed-URL tokens of the local backend: HS256 JWTs naming one operation on one object.

A token carries `op` (download or upload), `bucket`, `key` and `exp`; an upload
token also names its `owner` and its byte limit `max_bytes`. The routes check
that the token's bucket and key are exactly the ones in the URL, so a token
cannot be moved to another object, and the signature covers everything else.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import jwt

from utter.errors import Forbidden, Invalid

Op = Literal["download", "upload"]
_ISSUER = "utter-storage"
INVALID_SIGNED_URL = "Invalid signed URL token."


@dataclass(frozen=True)
class Grant:
    op: Op
    bucket: str
    key: str
    expires_at: int
    owner: UUID | None = None
    max_bytes: int | None = None


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret

    def sign(
        self,
        op: Op,
        bucket: str,
        key: str,
        *,
        expires_in: int,
        owner: UUID | None = None,
        max_bytes: int | None = None,
    ) -> tuple[str, int]:
        """The token and its expiry (unix seconds). Rounded up, so a token lives at least
        `expires_in` seconds."""
        expires_at = math.ceil(time.time() + expires_in)
        claims: dict[str, Any] = {
            "iss": _ISSUER,
            "op": op,
            "bucket": bucket,
            "key": key,
            "exp": expires_at,
        }
        if owner is not None:
            claims["owner"] = str(owner)
        if max_bytes is not None:
            claims["max_bytes"] = max_bytes
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires_at

    def verify(self, token: str | None, op: Op, bucket: str, key: str) -> Grant:
        """The grant `token` gives for `op` on `bucket`/`key`; Invalid when there is no
        token, Forbidden when it is forged, expired or for anything else."""
        if not token:
            raise Invalid("A signed URL token is required.")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=_ISSUER,
                options={"require": ["exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Forbidden("This signed URL has expired.") from None
        except jwt.InvalidTokenError:
            raise Forbidden(INVALID_SIGNED_URL) from None
        if claims.get("op") != op or claims.get("bucket") != bucket or claims.get("key") != key:
            raise Forbidden("This signed URL is not valid for this object.")
        owner = claims.get("owner")
        max_bytes = claims.get("max_bytes")
        try:
            return Grant(
                op=op,
                bucket=bucket,
                key=key,
                expires_at=int(claims["exp"]),
                owner=UUID(owner) if owner is not None else None,
                max_bytes=int(max_bytes) if max_bytes is not None else None,
            )
        except (TypeError, ValueError):
            raise Forbidden(INVALID_SIGNED_URL) from None
